//! Quantisation types: how many bytes a block of weights or KV elements takes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::units::Bytes;

/// A ggml tensor type, named as llama.cpp names it (`q4_k`, `f16`, `iq4_xs`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum QuantType {
    F32,
    F16,
    Bf16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    Q8K,
    Iq2Xxs,
    Iq2Xs,
    Iq3Xxs,
    Iq3S,
    Iq4Nl,
    Iq4Xs,
}

impl QuantType {
    /// Whether elements are stored as plain floats (`f32`, `f16`, `bf16`), which kernels read
    /// without dequantising.
    pub const fn is_float(self) -> bool {
        matches!(self, QuantType::F32 | QuantType::F16 | QuantType::Bf16)
    }

    /// Elements per block and bytes per block (ggml's `blck_size` and `type_size`).
    pub const fn block(self) -> (u32, u32) {
        use QuantType::*;
        match self {
            F32 => (1, 4),
            F16 | Bf16 => (1, 2),
            Q8_0 => (32, 34),
            Q4_0 => (32, 18),
            Q4_1 => (32, 20),
            Q5_0 => (32, 22),
            Q5_1 => (32, 24),
            Q2K => (256, 84),
            Q3K => (256, 110),
            Q4K => (256, 144),
            Q5K => (256, 176),
            Q6K => (256, 210),
            Q8K => (256, 292),
            Iq2Xxs => (256, 66),
            Iq2Xs => (256, 74),
            Iq3Xxs => (256, 98),
            Iq3S => (256, 110),
            Iq4Nl => (32, 18),
            Iq4Xs => (256, 136),
        }
    }

    /// Bytes taken by `elements` elements of this type (fractional for a partial block average).
    pub fn bytes(self, elements: f64) -> Bytes {
        let (n, b) = self.block();
        Bytes(elements * f64::from(b) / f64::from(n))
    }

    /// Bits per element.
    pub fn bits_per_weight(self) -> f64 {
        let (n, b) = self.block();
        8.0 * f64::from(b) / f64::from(n)
    }

    /// The name llama.cpp uses on its command line (`-ctk q8_0`) and in its output (`type_k`).
    pub fn name(self) -> &'static str {
        use QuantType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            Bf16 => "bf16",
            Q8_0 => "q8_0",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q2K => "q2_k",
            Q3K => "q3_k",
            Q4K => "q4_k",
            Q5K => "q5_k",
            Q6K => "q6_k",
            Q8K => "q8_k",
            Iq2Xxs => "iq2_xxs",
            Iq2Xs => "iq2_xs",
            Iq3Xxs => "iq3_xxs",
            Iq3S => "iq3_s",
            Iq4Nl => "iq4_nl",
            Iq4Xs => "iq4_xs",
        }
    }

    /// Every type, for look-ups by name.
    pub const ALL: [QuantType; 20] = {
        use QuantType::*;
        [
            F32, F16, Bf16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2K, Q3K, Q4K, Q5K, Q6K, Q8K, Iq2Xxs,
            Iq2Xs, Iq3Xxs, Iq3S, Iq4Nl, Iq4Xs,
        ]
    };

    /// Looks a type up by its llama.cpp name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|t| t.name() == lower)
    }
}

impl fmt::Display for QuantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_types_match_design() {
        assert_eq!(QuantType::F16.bytes(1.0).0, 2.0);
        assert_eq!(QuantType::Q8_0.bytes(32.0).0, 34.0);
        assert_eq!(QuantType::Q4_0.bytes(32.0).0, 18.0);
        assert_eq!(QuantType::from_name("Q8_0"), Some(QuantType::Q8_0));
        assert!(
            QuantType::ALL
                .iter()
                .all(|t| QuantType::from_name(t.name()) == Some(*t))
        );
    }
}
