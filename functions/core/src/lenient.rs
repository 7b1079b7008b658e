//! Lenient readers for the value shapes real ECS payloads use.
//!
//! ECS sends numbers as JSON numbers *or* strings (`"cpu": "1024"`), sends the
//! string `"null"` for absent values (`"cpu": "null"`), and timestamps with
//! zero to three fractional digits ([`crate::time::parse_time`]). These
//! helpers accept all of those and reject what is really malformed, so that a
//! bad payload is quarantined with a reason instead of being half-read.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::input::truncate;

/// Deserializes an optional integer sent as a number, a numeric string, `null`,
/// `""` or `"null"`. Fractions are refused: ECS never sends them for these fields.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct IntVisitor;
    impl<'de> Visitor<'de> for IntVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer, a numeric string, or null")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("integer {v} is out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("expected an integer, found {v}")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_int_str(v).map_err(E::custom)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(IntVisitor)
        }
    }
    d.deserialize_option(IntVisitor)
}

/// Deserializes an optional number sent as a number, a numeric string, `null`,
/// `""` or `"null"` (Container Insights sends some metrics as strings).
/// Non-finite values are refused.
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct FloatVisitor;
    impl<'de> Visitor<'de> for FloatVisitor {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, a numeric string, or null")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() || t.eq_ignore_ascii_case("null") {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(E::custom(format!(
                    "expected a number, found the string {:?}",
                    truncate(t, 40)
                ))),
            }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(FloatVisitor)
        }
    }
    d.deserialize_option(FloatVisitor)
}

/// An optional string, borrowed from the input unless it holds escapes.
///
/// serde borrows a `Cow<str>` field marked `#[serde(borrow)]`, but not one
/// inside an `Option`: `Option<Cow<str>>` allocates a `String` for every
/// value, which on the ingest path was a quarter of all allocations. Fields
/// declare `Str<'a>` with `#[serde(borrow, default)]` instead; it reads like
/// the `Option` it derefs to. `null` is `None`; another type is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> std::ops::Deref for Str<'a> {
    type Target = Option<Cow<'a, str>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(v))))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Str(None))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
                d.deserialize_str(self)
            }
        }
        d.deserialize_option(StrVisitor(PhantomData))
    }
}

/// Parses the string forms of an integer field: `"1024"`, `" 1024 "`, `""`, `"null"`.
pub fn parse_int_str(v: &str) -> Result<Option<i64>, String> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    t.parse::<i64>().map(Some).map_err(|_| {
        format!(
            "expected an integer, found the string {:?}",
            truncate(t, 40)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct N {
        #[serde(default, deserialize_with = "int")]
        v: Option<i64>,
    }

    fn n(json: &str) -> Result<Option<i64>, String> {
        serde_json::from_str::<N>(json)
            .map(|n| n.v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_in_every_shape_ecs_sends() {
        assert_eq!(n(r#"{"v": 1024}"#), Ok(Some(1024)));
        assert_eq!(n(r#"{"v": "1024"}"#), Ok(Some(1024)));
        assert_eq!(n(r#"{"v": "null"}"#), Ok(None));
        assert_eq!(n(r#"{"v": null}"#), Ok(None));
        assert_eq!(n(r#"{"v": ""}"#), Ok(None));
        assert_eq!(n(r#"{}"#), Ok(None));
        assert_eq!(n(r#"{"v": 2.0}"#), Ok(Some(2)));
    }

    #[derive(Deserialize)]
    struct F {
        #[serde(default, deserialize_with = "float")]
        v: Option<f64>,
    }

    #[test]
    fn numbers_as_numbers_or_strings() {
        let f = |json: &str| {
            serde_json::from_str::<F>(json)
                .map(|f| f.v)
                .map_err(|e| e.to_string())
        };
        assert_eq!(f(r#"{"v": 23.6}"#), Ok(Some(23.6)));
        assert_eq!(f(r#"{"v": 256}"#), Ok(Some(256.0)));
        assert_eq!(f(r#"{"v": "277"}"#), Ok(Some(277.0)));
        assert_eq!(f(r#"{"v": " 0.5 "}"#), Ok(Some(0.5)));
        assert_eq!(f(r#"{"v": "null"}"#), Ok(None));
        assert_eq!(f(r#"{}"#), Ok(None));
        assert!(f(r#"{"v": "NaN"}"#).is_err());
        assert!(f(r#"{"v": "lots"}"#).unwrap_err().contains("\"lots\""));
        assert!(f(r#"{"v": true}"#).is_err());
    }

    #[derive(Deserialize)]
    struct S<'a> {
        #[serde(borrow, default)]
        v: Str<'a>,
    }

    #[test]
    fn strings_are_borrowed_unless_escaped() {
        let s = |json: &'static str| serde_json::from_str::<S<'static>>(json).map(|s| s.v);
        assert!(matches!(
            s(r#"{"v": "RUNNING"}"#).unwrap().0,
            Some(Cow::Borrowed("RUNNING"))
        ));
        assert!(matches!(s(r#"{"v": "a\"b"}"#).unwrap().0, Some(Cow::Owned(o)) if o == "a\"b"));
        assert_eq!(s(r#"{"v": null}"#).unwrap().0, None);
        assert_eq!(s(r#"{}"#).unwrap().0, None);
        assert!(s(r#"{"v": 3}"#).is_err());
        // Through a Value too (serde calls visit_borrowed_str there).
        let v = serde_json::json!({"v": "x"});
        assert_eq!(S::deserialize(&v).unwrap().v.as_deref(), Some("x"));
    }

    #[test]
    fn malformed_integers_are_errors_with_the_value() {
        let e = n(r#"{"v": "12ab"}"#).unwrap_err();
        assert!(e.contains("\"12ab\""), "{e}");
        assert!(n(r#"{"v": 1.5}"#).is_err());
        assert!(n(r#"{"v": [1]}"#).is_err());
        assert!(n(r#"{"v": 18446744073709551615}"#).is_err());
    }
}
