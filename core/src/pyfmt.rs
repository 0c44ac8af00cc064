//! Python's `str()` and `repr()` for template values, so that `{{ value }}`
//! prints what Jinja2 prints (`None`, `True`, `['a', 'b']`, `{'k': 1}`).

use crate::limits::MAX_REPR_DEPTH;
use crate::pyobj::{PyDict, PyList};
use minijinja::value::{Value, ValueKind};
use std::fmt::Write;

/// Why a value cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReprError {
    /// Nested deeper than [`MAX_REPR_DEPTH`] (Python: `RecursionError`).
    TooDeep,
    /// Longer than [`MAX_REPR_BYTES`].
    TooLong,
    /// The render has read its [`crate::limits::MAX_COLLECTION_STEPS`].
    Budget,
}

impl std::fmt::Display for ReprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReprError::TooDeep => {
                write!(f, "maximum recursion depth exceeded while printing a value (limit {MAX_REPR_DEPTH})")
            }
            ReprError::TooLong => write!(f, "a printed value longer than {MAX_REPR_BYTES} bytes: the limit"),
            ReprError::Budget => write!(
                f,
                "printing read more than {} elements of lists and dicts: the limit",
                crate::limits::MAX_COLLECTION_STEPS
            ),
        }
    }
}

/// The longest text `str()`/`repr()` produces.
pub const MAX_REPR_BYTES: usize = 16 << 20;

/// Python `str(value)`. Printing that passes a limit gives a marker text;
/// templates use [`try_py_str`], which fails instead.
pub fn py_str(value: &Value) -> String {
    try_py_str(value).unwrap_or_else(|e| format!("<{e}>"))
}

/// Python `repr(value)`, see [`py_str`].
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    match write_repr(&mut out, value, &mut Vec::new()) {
        Ok(()) => out,
        Err(e) => format!("<{e}>"),
    }
}

/// Python `str(value)`, or why it cannot be printed.
pub fn try_py_str(value: &Value) -> Result<String, ReprError> {
    match value.kind() {
        ValueKind::String => Ok(value.as_str().unwrap_or_default().to_owned()),
        _ => {
            let mut out = String::new();
            write_repr(&mut out, value, &mut Vec::new())?;
            Ok(out)
        }
    }
}

/// The identity of a template collection, for cycle detection.
fn identity(value: &Value) -> Option<usize> {
    if let Some(l) = value.downcast_object_ref::<PyList>() {
        return Some(l as *const PyList as usize);
    }
    value.downcast_object_ref::<PyDict>().map(|d| d as *const PyDict as usize)
}

/// `seen` holds the collections being printed (Python's `Py_ReprEnter`): a
/// collection met again inside itself prints `[...]` or `{...}`.
fn write_repr(out: &mut String, value: &Value, seen: &mut Vec<usize>) -> Result<(), ReprError> {
    if out.len() > MAX_REPR_BYTES {
        return Err(ReprError::TooLong);
    }
    let id = identity(value);
    if let Some(id) = id
        && seen.contains(&id)
    {
        out.push_str(if value.kind() == ValueKind::Map { "{...}" } else { "[...]" });
        return Ok(());
    }
    if matches!(value.kind(), ValueKind::Seq | ValueKind::Iterable | ValueKind::Map) && seen.len() >= MAX_REPR_DEPTH {
        return Err(ReprError::TooDeep);
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => match f64::try_from(value.clone()) {
            Ok(f) if value.as_i64().is_none() => out.push_str(&float_repr(f)),
            _ => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::String => string_repr(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = match value.downcast_object_ref::<PyList>() {
                Some(l) => l.items(),
                None => value.try_iter().into_iter().flatten().collect(),
            };
            // Shared structure among a render's lists (a list holding copies
            // of itself) prints exponentially: every element is paid for.
            if id.is_some() && !crate::pyobj::spend(items.len()) {
                return Err(ReprError::Budget);
            }
            seen.push(id.unwrap_or(usize::MAX));
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let r = write_repr(out, item, seen);
                if r.is_err() {
                    seen.pop();
                    return r;
                }
            }
            out.push(']');
            seen.pop();
        }
        ValueKind::Map => {
            let pairs: Vec<(Value, Value)> = match value.downcast_object_ref::<PyDict>() {
                Some(d) => d.pairs(),
                None => value
                    .try_iter()
                    .into_iter()
                    .flatten()
                    .map(|k| {
                        let v = value.get_item(&k).unwrap_or_default();
                        (k, v)
                    })
                    .collect(),
            };
            if id.is_some() && !crate::pyobj::spend(pairs.len()) {
                return Err(ReprError::Budget);
            }
            seen.push(id.unwrap_or(usize::MAX));
            out.push('{');
            for (i, (key, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let r = write_repr(out, key, seen).and_then(|()| {
                    out.push_str(": ");
                    write_repr(out, v, seen)
                });
                if r.is_err() {
                    seen.pop();
                    return r;
                }
            }
            out.push('}');
            seen.pop();
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
    Ok(())
}

/// Python's float repr: shortest round-trip digits, `.0` on integral values,
/// exponent form at 1e16 and above or below 1e-4.
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn string_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python truthiness.
pub fn py_truthy(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        _ => value.is_true(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python() {
        assert_eq!(py_str(&Value::from(())), "None");
        assert_eq!(py_str(&Value::from(true)), "True");
        assert_eq!(py_str(&Value::from(3)), "3");
        assert_eq!(py_str(&Value::from(1.0)), "1.0");
        assert_eq!(py_str(&Value::from(0.5)), "0.5");
        assert_eq!(py_str(&Value::from(1e20)), "1e+20");
        assert_eq!(py_str(&Value::from("x")), "x");
        assert_eq!(py_str(&Value::from(vec![Value::from("a"), Value::from(1)])), "['a', 1]");
        assert_eq!(py_repr(&Value::from("it's")), "\"it's\"");
        assert_eq!(py_repr(&Value::from("a\nb")), "'a\\nb'");
    }

    #[test]
    fn self_containing_collections_print_as_python_does() {
        let l = crate::pyobj::mutable(Value::from(vec![Value::from(1)]));
        let list = l.downcast_object_ref::<PyList>().unwrap();
        // Python: l = [1]; l.append(l); str(l) == '[1, [...]]'
        let mut items = list.items();
        items.push(l.clone());
        let l2 = crate::pyobj::mutable(Value::from(items));
        assert_eq!(py_str(&l2), "[1, [1]]");
        let env = minijinja::Environment::new();
        let mut env = env;
        env.add_function("m", crate::pyobj::mutable);
        env.set_formatter(|out, _, v| {
            out.write_str(
                &try_py_str(v)
                    .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))?,
            )
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write"))
        });
        let got = env.render_str("{% set l = m([1]) %}{% do l.append(l) %}{{ l }}", ()).unwrap();
        assert_eq!(got, "[1, [...]]");
        let got = env.render_str("{% set d = m({'a': 1}) %}{% do d.update({'me': d}) %}{{ d }}", ()).unwrap();
        assert_eq!(got, "{'a': 1, 'me': {...}}");
        let got = env
            .render_str("{% set l = m([1, 2]) %}{% do l.extend(l) %}{{ l }} {{ l.count(l) }} {{ l == l }}", ())
            .unwrap();
        assert_eq!(got, "[1, 2, 1, 2] 0 True");
    }
}
