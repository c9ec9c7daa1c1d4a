//! Sets of layer indices, written as llama.cpp users write them: `"0-19"`, `"20-"`, `"0,2,4-7"`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of layer indices as inclusive ranges; an open range (`"20-"`) runs to the last layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerSet {
    ranges: Vec<(u32, Option<u32>)>,
}

/// Why a layer set could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a layer set; expected ranges such as `0-19`, `20-` or `0,2,4-7`")]
pub struct LayerSetError {
    text: String,
}

impl LayerSet {
    /// Parses `"0-3,7,33-"`.
    pub fn parse(text: &str) -> Result<Self, LayerSetError> {
        let err = || LayerSetError {
            text: text.to_owned(),
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(err());
            }
            let range = match part.split_once('-') {
                None => {
                    let v = part.parse().map_err(|_| err())?;
                    (v, Some(v))
                }
                Some((a, "")) => (a.trim().parse().map_err(|_| err())?, None),
                Some((a, b)) => {
                    let lo: u32 = a.trim().parse().map_err(|_| err())?;
                    let hi: u32 = b.trim().parse().map_err(|_| err())?;
                    if hi < lo {
                        return Err(err());
                    }
                    (lo, Some(hi))
                }
            };
            ranges.push(range);
        }
        Ok(Self { ranges })
    }

    /// Every layer from `lo` on.
    pub fn from(lo: u32) -> Self {
        Self {
            ranges: vec![(lo, None)],
        }
    }

    /// Layers `lo..=hi`.
    pub fn range(lo: u32, hi: u32) -> Self {
        Self {
            ranges: vec![(lo, Some(hi))],
        }
    }

    /// Whether `layer` is in the set.
    pub fn contains(&self, layer: u32) -> bool {
        self.ranges
            .iter()
            .any(|&(lo, hi)| layer >= lo && hi.is_none_or(|h| layer <= h))
    }
}

impl fmt::Display for LayerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match hi {
                Some(h) if h == lo => write!(f, "{lo}")?,
                Some(h) => write!(f, "{lo}-{h}")?,
                None => write!(f, "{lo}-")?,
            }
        }
        Ok(())
    }
}

impl Serialize for LayerSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LayerSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LayerSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a layer set such as `0-19`, `20-` or `0,2,4-7`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<LayerSet, E> {
                LayerSet::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<LayerSet, E> {
                let v = u32::try_from(v).map_err(E::custom)?;
                Ok(LayerSet::range(v, v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LayerSet, A::Error> {
                let mut ranges = Vec::new();
                while let Some(v) = seq.next_element::<u32>()? {
                    ranges.push((v, Some(v)));
                }
                Ok(LayerSet { ranges })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let s = LayerSet::parse("0-3,7,33-").unwrap();
        assert!(s.contains(0) && s.contains(3) && s.contains(7) && s.contains(40));
        assert!(!s.contains(4) && !s.contains(32));
        assert_eq!(s.to_string(), "0-3,7,33-");
        assert!(LayerSet::parse("3-1").is_err());
        assert!(LayerSet::parse("a").is_err());
        assert!(LayerSet::parse("").is_err());
    }
}
