//! Mutable Python lists and dicts for templates, so that Jinja2's `do`
//! statement works as in docker-pkg: `{% do pkgs.append("curl") %}`,
//! `{% do env.update({"A": "1"}) %}`. Template literals are wrapped into
//! these by `jinja_compat`.
//!
//! Hostile templates are expected: a list may contain itself (it prints
//! `[...]`, as in Python), `l.extend(l)` doubles the list (as in Python),
//! every element added is paid for with render fuel, and no collection
//! grows past [`MAX_COLLECTION_LEN`]. The lock is never held while other
//! values are compared or iterated, so nothing can deadlock on it.

use crate::limits::{MAX_COLLECTION_LEN, MAX_COLLECTION_STEPS, MAX_REPR_DEPTH};
use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};
use std::cell::Cell;
use std::cmp::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn arity(method: &str, args: &[Value], min: usize, max: usize) -> Result<(), Error> {
    if args.len() < min || args.len() > max {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("{method}() takes {min}..{max} arguments")));
    }
    Ok(())
}

/// Pays for `n` new elements and checks the size a collection would reach.
fn grow(state: &State, new_len: usize, added: usize) -> Result<(), Error> {
    if new_len > MAX_COLLECTION_LEN {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("a list or dict of more than {MAX_COLLECTION_LEN} elements: the limit"),
        ));
    }
    state.consume_fuel(added as u64)
}

/// A Python list.
#[derive(Debug, Default)]
pub struct PyList(Mutex<Vec<Value>>);

/// A Python dict (insertion-ordered).
#[derive(Debug, Default)]
pub struct PyDict(Mutex<Vec<(Value, Value)>>);

impl PyList {
    /// A snapshot of the items (cheap: values are reference-counted).
    pub fn items(&self) -> Vec<Value> {
        lock(&self.0).clone()
    }
}

impl PyDict {
    /// A snapshot of the pairs.
    pub fn pairs(&self) -> Vec<(Value, Value)> {
        lock(&self.0).clone()
    }
}

thread_local! {
    /// Every list and dict made by the render running on this thread.
    static MADE: std::cell::RefCell<Vec<Value>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Remembers a list or dict made during a render, so that [`release`] can
/// break the cycles a template may make (`l.append(l)`): reference counts
/// alone never free those.
fn track(value: Value) -> Value {
    MADE.with(|m| m.borrow_mut().push(value.clone()));
    value
}

/// Ends a render on this thread: empties every list and dict it made, so
/// that cycles among them are freed. Nothing made by a template outlives
/// its render (the output is a string). Returns whether the render ran out
/// of collection steps ([`MAX_COLLECTION_STEPS`]): comparisons cannot fail in
/// minijinja, so the render must be failed by its caller.
#[must_use]
pub fn release() -> bool {
    let over = STEPS.with(|s| s.replace(0)) > MAX_COLLECTION_STEPS;
    let made = MADE.with(|m| std::mem::take(&mut *m.borrow_mut()));
    for v in made {
        if let Some(l) = v.downcast_object_ref::<PyList>() {
            drop(std::mem::take(&mut *lock(&l.0)));
        } else if let Some(d) = v.downcast_object_ref::<PyDict>() {
            drop(std::mem::take(&mut *lock(&d.0)));
        }
    }
    over
}

/// Wraps a native list or map value into its mutable counterpart.
pub fn mutable(value: Value) -> Value {
    match value.kind() {
        ValueKind::Seq => {
            track(Value::from_object(PyList(Mutex::new(value.try_iter().map(|i| i.collect()).unwrap_or_default()))))
        }
        ValueKind::Map => {
            let pairs = value
                .try_iter()
                .map(|keys| keys.map(|k| (k.clone(), value.get_item(&k).unwrap_or_default())).collect())
                .unwrap_or_default();
            track(Value::from_object(PyDict(Mutex::new(pairs))))
        }
        _ => value,
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

thread_local! {
    /// Nesting of comparisons between template collections on this thread.
    static CMP_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Elements read without fuel (compared, searched, enumerated) by the
    /// render running on this thread.
    static STEPS: Cell<u64> = const { Cell::new(0) };
}

/// Pays for reading `n` elements where minijinja gives no fuel to pay with
/// (comparisons, lookups, enumeration, printing). False past [`MAX_COLLECTION_STEPS`]:
/// the caller then does no work, and [`release`] fails the render.
pub(crate) fn spend(n: usize) -> bool {
    STEPS.with(|s| {
        let v = s.get().saturating_add(n as u64 + 1);
        s.set(v);
        v <= MAX_COLLECTION_STEPS
    })
}

/// Compares two collections of `len` elements in all, element by element,
/// with a depth guard and a budget: two distinct structures that each
/// contain themselves compare unequal instead of recursing forever (Python
/// raises `RecursionError` there), and shared structure cannot make the
/// work exponential, because every element compared is paid for with
/// [`spend`] (past the budget, everything compares unequal and the render
/// fails).
fn guarded<T>(len: usize, f: impl FnOnce() -> T, too_deep: T) -> T {
    if !spend(len) {
        return too_deep;
    }
    let depth = CMP_DEPTH.with(|d| {
        let v = d.get() + 1;
        d.set(v);
        v
    });
    let out = if depth > MAX_REPR_DEPTH { too_deep } else { f() };
    CMP_DEPTH.with(|d| d.set(d.get() - 1));
    out
}

impl Object for PyList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        index(items.len(), key.as_i64()?).map(|i| items[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let items = lock(&self.0);
        Enumerator::Values(if spend(items.len()) { items.clone() } else { Vec::new() })
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<PyList>()?;
        if std::ptr::eq(&**self, other) {
            // Python compares `x is y` as equal inside containers.
            return Some(Ordering::Equal);
        }
        let len = lock(&self.0).len();
        let len = len + lock(&other.0).len();
        Some(guarded(len, || self.items().cmp(&other.items()), Ordering::Less))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::pyfmt::py_repr(&Value::from_dyn_object(DynObject::new(self.clone()))))
    }

    fn call_method(self: &Arc<Self>, state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "append" => {
                arity(method, args, 1, 1)?;
                let mut items = lock(&self.0);
                grow(state, items.len() + 1, 1)?;
                items.push(args[0].clone());
                Ok(none)
            }
            "extend" => {
                arity(method, args, 1, 1)?;
                // Collected before the lock: `l.extend(l)` reads `l`.
                let new: Vec<Value> = args[0].try_iter()?.take(MAX_COLLECTION_LEN + 1).collect();
                let mut items = lock(&self.0);
                grow(state, items.len() + new.len(), new.len())?;
                items.extend(new);
                Ok(none)
            }
            "insert" => {
                arity(method, args, 2, 2)?;
                let mut items = lock(&self.0);
                grow(state, items.len() + 1, 1)?;
                let len = items.len() as i64;
                let at = args[0].as_i64().unwrap_or(0);
                let at = if at < 0 { (len + at).max(0) } else { at.min(len) };
                items.insert(at as usize, args[1].clone());
                Ok(none)
            }
            "pop" => {
                arity(method, args, 0, 1)?;
                let at = args.first().and_then(Value::as_i64).unwrap_or(-1);
                let mut items = lock(&self.0);
                match index(items.len(), at) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(Error::new(ErrorKind::InvalidOperation, "pop from empty list or index out of range")),
                }
            }
            "remove" => {
                arity(method, args, 1, 1)?;
                let snapshot = self.items();
                state.consume_fuel(snapshot.len() as u64)?;
                match snapshot.iter().position(|v| v == &args[0]) {
                    Some(i) => {
                        let mut items = lock(&self.0);
                        if i < items.len() {
                            items.remove(i);
                        }
                        Ok(none)
                    }
                    None => Err(Error::new(ErrorKind::InvalidOperation, "list.remove(x): x not in list")),
                }
            }
            "clear" => {
                lock(&self.0).clear();
                Ok(none)
            }
            "reverse" => {
                lock(&self.0).reverse();
                Ok(none)
            }
            "sort" => {
                let mut snapshot = self.items();
                state.consume_fuel(snapshot.len() as u64 * 8)?;
                // Only what Python can order: all strings, or all numbers
                // (no NaN). Anything else is Python's TypeError, and never a
                // comparison that is not a total order (Rust's sort panics).
                let strings = snapshot.iter().all(|v| v.kind() == ValueKind::String);
                let numbers = snapshot.iter().all(|v| {
                    matches!(v.kind(), ValueKind::Number | ValueKind::Bool)
                        && !f64::try_from(v.clone()).is_ok_and(|f| f.is_nan())
                });
                if !strings && !numbers {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "sort(): '<' not supported between these items (only all strings or all numbers sort)",
                    ));
                }
                snapshot.sort();
                *lock(&self.0) = snapshot;
                Ok(none)
            }
            "count" => {
                let snapshot = self.items();
                state.consume_fuel(snapshot.len() as u64)?;
                Ok(Value::from(snapshot.iter().filter(|v| Some(*v) == args.first()).count()))
            }
            "index" => {
                let snapshot = self.items();
                state.consume_fuel(snapshot.len() as u64)?;
                match snapshot.iter().position(|v| Some(v) == args.first()) {
                    Some(i) => Ok(Value::from(i)),
                    None => Err(Error::new(ErrorKind::InvalidOperation, "value is not in list")),
                }
            }
            "copy" => {
                let snapshot = self.items();
                grow(state, snapshot.len(), snapshot.len())?;
                Ok(track(Value::from_object(PyList(Mutex::new(snapshot)))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn find(pairs: &[(Value, Value)], key: &Value) -> Option<usize> {
    pairs.iter().position(|(k, _)| k == key)
}

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if key.as_object().is_none() {
            // A plain key compares without locking anything: search in place.
            let pairs = lock(&self.0);
            return if spend(pairs.len()) { find(&pairs, key).map(|i| pairs[i].1.clone()) } else { None };
        }
        let pairs = self.pairs();
        if !spend(pairs.len()) {
            return None;
        }
        find(&pairs, key).map(|i| pairs[i].1.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let pairs = lock(&self.0);
        Enumerator::Values(if spend(pairs.len()) { pairs.iter().map(|(k, _)| k.clone()).collect() } else { Vec::new() })
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<PyDict>()?;
        if std::ptr::eq(&**self, other) {
            return Some(Ordering::Equal);
        }
        let len = lock(&self.0).len();
        let len = len + lock(&other.0).len();
        Some(guarded(
            len,
            || {
                let (a, b) = (self.pairs(), other.pairs());
                if a.len() != b.len() {
                    return a.len().cmp(&b.len());
                }
                let same = a.iter().all(|(k, v)| find(&b, k).is_some_and(|i| &b[i].1 == v));
                if same { Ordering::Equal } else { Ordering::Less }
            },
            Ordering::Less,
        ))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::pyfmt::py_repr(&Value::from_dyn_object(DynObject::new(self.clone()))))
    }

    fn call_method(self: &Arc<Self>, state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "update" => {
                arity(method, args, 1, 1)?;
                let other = &args[0];
                // Read before the lock: `d.update(d)` reads `d`.
                let new: Vec<(Value, Value)> = other
                    .try_iter()?
                    .take(MAX_COLLECTION_LEN + 1)
                    .map(|k| (k.clone(), other.get_item(&k).unwrap_or_default()))
                    .collect();
                let mut pairs = self.pairs();
                grow(state, pairs.len() + new.len(), new.len())?;
                // Each key is searched for: pay for the comparisons.
                state.consume_fuel((pairs.len() as u64).saturating_mul(new.len() as u64) / 64)?;
                for (k, v) in new {
                    match find(&pairs, &k) {
                        Some(i) => pairs[i].1 = v,
                        None => pairs.push((k, v)),
                    }
                }
                *lock(&self.0) = pairs;
                Ok(none)
            }
            "setdefault" => {
                arity(method, args, 1, 2)?;
                let pairs = self.pairs();
                state.consume_fuel(pairs.len() as u64 / 64)?;
                if let Some(i) = find(&pairs, &args[0]) {
                    return Ok(pairs[i].1.clone());
                }
                let v = args.get(1).cloned().unwrap_or(none);
                let mut items = lock(&self.0);
                grow(state, items.len() + 1, 1)?;
                items.push((args[0].clone(), v.clone()));
                Ok(v)
            }
            "pop" => {
                arity(method, args, 1, 2)?;
                let pairs = self.pairs();
                state.consume_fuel(pairs.len() as u64 / 64)?;
                match find(&pairs, &args[0]) {
                    Some(i) => {
                        let mut items = lock(&self.0);
                        Ok(if i < items.len() { items.remove(i).1 } else { none })
                    }
                    None => {
                        args.get(1).cloned().ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "key not in dict"))
                    }
                }
            }
            "clear" => {
                lock(&self.0).clear();
                Ok(none)
            }
            "copy" => {
                let pairs = self.pairs();
                grow(state, pairs.len(), pairs.len())?;
                Ok(track(Value::from_object(PyDict(Mutex::new(pairs)))))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod sort_tests {
    use crate::config::Config;
    use crate::render::Renderer;

    /// Found by the pyfmt fuzz target: sorting items that have no total
    /// order (lists, mixed kinds, NaN) made Rust's sort panic.
    #[test]
    fn sort_orders_strings_and_numbers_and_refuses_the_rest() {
        let r = Renderer::new(&Config::defaults(), Vec::<String>::new());
        let ok = r.render_str(
            "{% set l = [3, 1.5, 2] %}{% do l.sort() %}{{ l }}{% set s = ['b', 'a'] %}{% do s.sort() %}{{ s }}",
        );
        assert_eq!(ok.unwrap(), "[1.5, 2, 3]['a', 'b']");
        for bad in [
            "{% set l = [[1], 'a', 2] %}{% do l.sort() %}",
            "{% set l = [] %}{% do l.append(l) %}{% do l.append(l) %}{% do l.sort() %}",
            "{% set l = [1, 'a'] %}{% do l.sort() %}",
        ] {
            let err = r.render_str(bad).unwrap_err().to_string();
            assert!(err.contains("not supported"), "{bad}: {err}");
        }
    }
}

#[cfg(test)]
mod compare_tests {
    use crate::config::Config;
    use crate::render::Renderer;
    use std::time::{Duration, Instant};

    /// Found by the pyfmt fuzz target: a list holding itself many times,
    /// compared with a copy of an older self, recursed 200 levels deep at
    /// every element, and the work grew exponentially (it ran for minutes,
    /// and ran the fuzzer out of memory).
    #[test]
    fn comparing_self_holding_lists_is_bounded_and_identity_is_equality() {
        let r = Renderer::new(&Config::defaults(), Vec::<String>::new());
        // The fuzz input, as the template it makes.
        let mut t = String::from("{% set a = [1] %}{% set b = {'k': 'v'} %}{% set c = [] %}{% set d = {} %}");
        t.push_str("{% do a.append(a) %}{% do a.append(a) %}{% set b = a.copy() %}");
        let round = "{% do a.append(a) %}{% do a.append(b) %}{% do a.insert(0, a) %}{% do a.append(a) %}\
            {% do a.append(c) %}{% do a.extend(a) %}{% do a.extend(a) %}{% do a.extend(a) %}{% set d = d.copy() %}\
            {{ a.count(d) }}{{ a == d }}{{ a.count(c) }}{{ a == c }}{% do a.extend(a) %}{% do a.extend(a) %}\
            {% do a.extend(a) %}{% set d = d.copy() %}";
        t.push_str(round);
        t.push_str(round);
        t.push_str("{{ a.count(b) }}{{ a == b }}{{ a }}{{ b }}{{ c }}{{ d }}");
        let start = Instant::now();
        let out = r.render_str(&t);
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        if let Err(e) = &out {
            assert!(e.to_string().contains("the limit"), "{e}");
        }
        // Python: `x is y` counts as equal inside containers, so a list
        // that holds itself equals itself and counts itself.
        let same = r.render_str("{% set l = [1] %}{% do l.append(l) %}{{ l == l }} {{ l.count(l) }} {{ [l] == [l] }}");
        assert_eq!(same.unwrap(), "True 1 True");
    }

    /// Lookups in a big dict and membership tests in a big list have no
    /// fuel in minijinja: a million of them over 2,000 elements ran for
    /// minutes. They are paid for from the collection step budget.
    #[test]
    fn reads_of_big_collections_are_bounded() {
        let r = Renderer::new(&Config::defaults(), Vec::<String>::new());
        let build = "{% set d = {} %}{% set l = [] %}{% for i in range(2000) %}{% do d.setdefault(i, i) %}{% do l.append(i) %}{% endfor %}";
        for read in ["{{ d[1999] }}", "{{ 1999 in l }}", "{{ l|length }}{% for x in l %}{% endfor %}"] {
            let t = format!(
                "{build}{{% for i in range(1000) %}}{{% for j in range(1000) %}}{read}{{% endfor %}}{{% endfor %}}"
            );
            let start = Instant::now();
            let err = r.render_str(&t).unwrap_err().to_string();
            assert!(start.elapsed() < Duration::from_secs(5), "{read}: took {:?}", start.elapsed());
            assert!(err.contains("the limit") || err.contains("out of fuel"), "{read}: {err}");
        }
        // Ordinary use stays well inside it.
        let ok = r.render_str(&format!("{build}{{{{ d[1999] }}}} {{{{ 1999 in l }}}} {{{{ l|length }}}}"));
        assert_eq!(ok.unwrap(), "1999 True 2000");
    }

    /// Found by the pyfmt fuzz target: lists holding copies of older
    /// selves print exponentially (each print up to the 16 MiB limit, then
    /// thrown away), and twenty prints ran past the fuzzer's 10 s.
    #[test]
    fn printing_shared_structure_is_bounded() {
        let r = Renderer::new(&Config::defaults(), Vec::<String>::new());
        let t = "{% set a = [1] %}{% set b = {'k': 'v'} %}{% set c = [] %}{% set d = {} %}{% do b.setdefault('a', a) %}{% do a.insert(0, b) %}{% do a.append(d) %}{{ a ~ a }}{% do a.extend(a) %}{% do a.append(d) %}{% set a = a.copy() %}{% do a.insert(0, a) %}{{ a ~ d }}{{ c ~ a }}{% do a.extend(a) %}{{ d ~ a }}{{ a ~ a }}{{ a ~ d }}{% do c.append(d) %}{% do a.insert(0, b) %}{% set a = a.copy() %}{{ b ~ a }}{% do a.append(a) %}{% do a.append(d) %}{% do b.setdefault('b', b) %}{{ a ~ a }}{% do a.extend(a) %}{% do a.append(d) %}{% set a = a.copy() %}{% do a.insert(0, a) %}{% do a.extend(a) %}{% do a.append(d) %}{% set a = a.copy() %}{% do a.insert(0, a) %}{{ a ~ d }}{{ c ~ a }}{% do a.extend(a) %}{{ d ~ a }}{{ a ~ a }}{{ a ~ d }}{% do c.append(d) %}{% do a.insert(0, b) %}{% set a = a.copy() %}{{ b ~ a }}{% do a.append(a) %}{% do d.setdefault('a', a) %}{% do a.append(a) %}{{ a }}{% do a.extend(c) %}{{ d ~ a }}{{ a ~ d }}{{ a ~ a }}{% set a = a.copy() %}{{ a ~ a }}{{ a ~ a }}{{ a ~ a }}{{ a ~ c }}{{ a ~ a }}{{ c }}{{ a }}{{ b }}{{ c }}{{ d }}";
        let start = Instant::now();
        let out = r.render_str(t);
        assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
        let err = out.unwrap_err().to_string();
        assert!(err.contains("the limit"), "{err}");
    }
}
