//! Mutable Python lists and dicts for templates, so that Jinja2's `do`
//! statement works as in docker-pkg: `{% do pkgs.append("curl") %}`,
//! `{% do env.update({"A": "1"}) %}`. Template literals are wrapped into
//! these by `jinja_compat`.

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};
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

/// A Python list.
#[derive(Debug, Default)]
pub struct PyList(Mutex<Vec<Value>>);

/// A Python dict (insertion-ordered).
#[derive(Debug, Default)]
pub struct PyDict(Mutex<Vec<(Value, Value)>>);

/// Wraps a native list or map value into its mutable counterpart.
pub fn mutable(value: Value) -> Value {
    match value.kind() {
        ValueKind::Seq => {
            Value::from_object(PyList(Mutex::new(value.try_iter().map(|i| i.collect()).unwrap_or_default())))
        }
        ValueKind::Map => {
            let pairs = value
                .try_iter()
                .map(|keys| keys.map(|k| (k.clone(), value.get_item(&k).unwrap_or_default())).collect())
                .unwrap_or_default();
            Value::from_object(PyDict(Mutex::new(pairs)))
        }
        _ => value,
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
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
        Enumerator::Values(lock(&self.0).clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let mut items = lock(&self.0);
        let none = Value::from(());
        match method {
            "append" => {
                arity(method, args, 1, 1)?;
                items.push(args[0].clone());
                Ok(none)
            }
            "extend" => {
                arity(method, args, 1, 1)?;
                items.extend(args[0].try_iter()?);
                Ok(none)
            }
            "insert" => {
                arity(method, args, 2, 2)?;
                let len = items.len() as i64;
                let at = args[0].as_i64().unwrap_or(0);
                let at = if at < 0 { (len + at).max(0) } else { at.min(len) };
                items.insert(at as usize, args[1].clone());
                Ok(none)
            }
            "pop" => {
                arity(method, args, 0, 1)?;
                let at = args.first().and_then(Value::as_i64).unwrap_or(-1);
                match index(items.len(), at) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(Error::new(ErrorKind::InvalidOperation, "pop from empty list or index out of range")),
                }
            }
            "remove" => {
                arity(method, args, 1, 1)?;
                match items.iter().position(|v| v == &args[0]) {
                    Some(i) => {
                        items.remove(i);
                        Ok(none)
                    }
                    None => Err(Error::new(ErrorKind::InvalidOperation, "list.remove(x): x not in list")),
                }
            }
            "clear" => {
                items.clear();
                Ok(none)
            }
            "reverse" => {
                items.reverse();
                Ok(none)
            }
            "sort" => {
                items.sort();
                Ok(none)
            }
            "count" => Ok(Value::from(items.iter().filter(|v| Some(*v) == args.first()).count())),
            "index" => match items.iter().position(|v| Some(v) == args.first()) {
                Some(i) => Ok(Value::from(i)),
                None => Err(Error::new(ErrorKind::InvalidOperation, "value is not in list")),
            },
            "copy" => Ok(Value::from_object(PyList(Mutex::new(items.clone())))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

impl PyDict {
    fn set(items: &mut Vec<(Value, Value)>, k: Value, v: Value) {
        match items.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => items.push((k, v)),
        }
    }
}

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "update" => {
                arity(method, args, 1, 1)?;
                let other = &args[0];
                let pairs: Vec<(Value, Value)> =
                    other.try_iter()?.map(|k| (k.clone(), other.get_item(&k).unwrap_or_default())).collect();
                let mut items = lock(&self.0);
                for (k, v) in pairs {
                    Self::set(&mut items, k, v);
                }
                Ok(none)
            }
            "setdefault" => {
                arity(method, args, 1, 2)?;
                let mut items = lock(&self.0);
                if let Some((_, v)) = items.iter().find(|(k, _)| *k == args[0]) {
                    return Ok(v.clone());
                }
                let v = args.get(1).cloned().unwrap_or(none);
                items.push((args[0].clone(), v.clone()));
                Ok(v)
            }
            "pop" => {
                arity(method, args, 1, 2)?;
                let mut items = lock(&self.0);
                match items.iter().position(|(k, _)| *k == args[0]) {
                    Some(i) => Ok(items.remove(i).1),
                    None => {
                        args.get(1).cloned().ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "key not in dict"))
                    }
                }
            }
            "clear" => {
                lock(&self.0).clear();
                Ok(none)
            }
            "copy" => Ok(Value::from_object(PyDict(Mutex::new(lock(&self.0).clone())))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
