//! GGUF headers: a llama.cpp model file's metadata and tensor infos, and the model spec they
//! describe.
//!
//! A GGUF file is a header followed by the tensor data. The header holds the magic `GGUF`, a
//! version (2 or 3 here), the tensor and metadata counts, the metadata key/value pairs, and one
//! info (name, shape, ggml type, offset) per tensor, all little-endian. Only the header is read:
//! it is enough to know every tensor's exact size, and so the bytes a model moves.
//!
//! Files are untrusted input. Every count and length read from one is checked against
//! [`Limits`] before it is used, nothing is allocated ahead of the bytes the file actually
//! holds, the tokenizer's vocabulary arrays (tens to hundreds of thousands of strings) are
//! skipped rather than kept, and all size arithmetic is checked, so a truncated or hostile file
//! yields a [`GgufError`] rather than a panic or an exhausted memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::layers::LayerSet;
use crate::model::quant::QuantType;
use crate::model::spec::{
    BlockTensor, ModelSpec, MoeSpec, QuantOverride, QuantSpec, SlidingWindow,
};
use crate::model::traffic::ModelTraffic;
use crate::report::numfmt::grouped_int;

const MAGIC: [u8; 4] = *b"GGUF";

/// GGUF's default alignment of the tensor data when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;

/// Arrays of arrays are legal GGUF but no model uses more than one level; the bound keeps a
/// crafted file from recursing the reader off its stack.
const MAX_ARRAY_DEPTH: u32 = 4;

/// Bounds on what a header may claim, checked before anything is read or allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most tensor infos a header may declare.
    pub max_tensors: u64,
    /// Most metadata key/value pairs a header may declare.
    pub max_kv: u64,
    /// Longest string (key, value or tensor name), in bytes.
    pub max_string: u64,
    /// Most elements an array may declare; arrays are never allocated beyond what the file
    /// actually holds, and those longer than `keep_array` are skipped.
    pub max_array: u64,
    /// Most dimensions a tensor may have (ggml's `GGML_MAX_DIMS`).
    pub max_dims: u32,
    /// Arrays of at most this many elements are kept; longer ones (the tokenizer's vocabulary,
    /// scores and merges) keep only their length.
    pub keep_array: u64,
    /// Most bytes the header may span. The largest published vocabularies (256k tokens with
    /// scores, types and merges) take under 20 MB, so the bound is far above any real header
    /// and stops a crafted one of `2^28`-element arrays from being skimmed for gigabytes.
    pub max_header_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_tensors: 1 << 16,
            max_kv: 1 << 16,
            max_string: 1 << 24,
            max_array: 1 << 28,
            max_dims: 4,
            keep_array: 1024,
            max_header_bytes: 256 << 20,
        }
    }
}

/// Why a GGUF header could not be read or turned into a model spec.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("the GGUF file could not be read: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with `GGUF`.
    #[error(
        "the file starts with `{}` rather than the magic `GGUF`; a GGUF model file is expected",
        .found.escape_ascii()
    )]
    BadMagic {
        /// The first four bytes of the file.
        found: [u8; 4],
    },
    /// A GGUF version other than 2 or 3 (version 1 used 32-bit counts; a byte-swapped 2 or 3 is
    /// a big-endian file).
    #[error(
        "GGUF version {0} is not supported; a little-endian GGUF file of version 2 or 3 is expected"
    )]
    UnsupportedVersion(u32),
    /// The file ends before the header does.
    #[error("the file ends inside {what}; a GGUF header is expected to be complete")]
    Truncated {
        /// The part of the header being read.
        what: String,
    },
    /// A count or length is above its [`Limits`] bound.
    #[error(
        "{what} is {count}, above the limit of {limit}; a GGUF header within these limits is expected"
    )]
    TooLarge {
        /// What was counted.
        what: String,
        /// The value the file claims.
        count: u64,
        /// The bound it exceeds.
        limit: u64,
    },
    /// The path is not a regular file (a directory, a device such as `/dev/zero`, a FIFO).
    #[error("it is not a regular file; a GGUF model file is expected")]
    NotAFile,
    /// A string is not UTF-8.
    #[error("{what} is not valid UTF-8; GGUF strings are expected to be UTF-8")]
    BadUtf8 {
        /// Which string.
        what: String,
    },
    /// A metadata value type outside GGUF's 0–12.
    #[error("{what} has value type {ty}; GGUF value types are 0 to 12")]
    UnknownValueType {
        /// Which value.
        what: String,
        /// The type the file claims.
        ty: u32,
    },
    /// A metadata key the model spec needs is absent.
    #[error("the GGUF metadata has no `{0}` key, which the model spec needs")]
    MissingKey(String),
    /// A tensor's ggml type is one tiersim cannot size or its model spec cannot express.
    #[error(
        "tensor `{name}` has ggml type {ty} ({}), which tiersim's model spec does not know; one of \
         f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k to q8_k, iq2_xxs, iq2_xs, iq3_xxs, \
         iq3_s, iq4_nl or iq4_xs is expected",
        ggml_label(*.ty)
    )]
    UnknownTensorType {
        /// The tensor.
        name: String,
        /// Its ggml type id.
        ty: u32,
    },
    /// The header contradicts itself or describes a layout the model spec cannot express; the
    /// message says which.
    #[error("{0}")]
    Inconsistent(String),
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Array(MetaArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A metadata array: its element type and length, and its elements when it is short enough to
/// keep (see [`Limits::keep_array`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaArray {
    /// GGUF value type of the elements (0–12).
    pub elem_type: u32,
    /// Number of elements in the file.
    pub len: u64,
    /// The elements, or `None` when the array was skipped for its length.
    pub values: Option<Vec<MetaValue>>,
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// GGUF's name for the value's type (`uint32`, `string`, `array`, ...).
    pub fn type_name(&self) -> &'static str {
        value_type_name(self.type_id())
    }

    fn type_id(&self) -> u32 {
        match self {
            Self::U8(_) => 0,
            Self::I8(_) => 1,
            Self::U16(_) => 2,
            Self::I16(_) => 3,
            Self::U32(_) => 4,
            Self::I32(_) => 5,
            Self::F32(_) => 6,
            Self::Bool(_) => 7,
            Self::Str(_) => 8,
            Self::Array(_) => 9,
            Self::U64(_) => 10,
            Self::I64(_) => 11,
            Self::F64(_) => 12,
        }
    }
}

fn value_type_name(ty: u32) -> &'static str {
    match ty {
        0 => "uint8",
        1 => "int8",
        2 => "uint16",
        3 => "int16",
        4 => "uint32",
        5 => "int32",
        6 => "float32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "uint64",
        11 => "int64",
        12 => "float64",
        _ => "unknown",
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::U8(v) => write!(f, "{v}"),
            Self::I8(v) => write!(f, "{v}"),
            Self::U16(v) => write!(f, "{v}"),
            Self::I16(v) => write!(f, "{v}"),
            Self::U32(v) => write!(f, "{v}"),
            Self::I32(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v}"),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Str(s) => write!(f, "{s:?}"),
            Self::U64(v) => write!(f, "{v}"),
            Self::I64(v) => write!(f, "{v}"),
            Self::F64(v) => write!(f, "{v}"),
            Self::Array(a) => match &a.values {
                None => write!(f, "[{} × {}]", a.len, value_type_name(a.elem_type)),
                Some(values) => {
                    f.write_str("[")?;
                    for (i, v) in values.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{v}")?;
                    }
                    f.write_str("]")
                }
            },
        }
    }
}

/// One tensor's entry in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// GGUF tensor name (`blk.3.attn_q.weight`).
    pub name: String,
    /// Shape, innermost (row length) first, as ggml's `ne`.
    pub dims: Vec<u64>,
    /// ggml type id (`GGML_TYPE_Q4_K` = 12, ...).
    pub ggml_type: u32,
    /// Offset of the data from the start of the tensor data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements, or `None` if it overflows 64 bits.
    pub fn elements(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
    }
}

/// A GGUF header: metadata in file order and tensor infos.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    /// GGUF version (2 or 3).
    pub version: u32,
    /// Metadata key/value pairs in file order (keys are unique).
    pub metadata: Vec<(String, MetaValue)>,
    /// Tensor infos in file order (names are unique).
    pub tensors: Vec<TensorInfo>,
    /// Bytes from the start of the file to the end of the last tensor info, before the padding
    /// that aligns the tensor data.
    pub header_bytes: u64,
}

impl GgufHeader {
    /// The value of metadata key `key`.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The tensor named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Alignment of the tensor data: `general.alignment`, else GGUF's default of 32.
    pub fn alignment(&self) -> u64 {
        self.get("general.alignment")
            .and_then(MetaValue::as_u64)
            .unwrap_or(DEFAULT_ALIGNMENT)
    }

    /// Where the tensor data starts: the header's length rounded up to the alignment.
    pub fn data_offset(&self) -> Option<u64> {
        let a = self.alignment();
        self.header_bytes.checked_next_multiple_of(a)
    }

    /// Sum of [`tensor_bytes`] over every tensor, or `None` if a type is unknown.
    pub fn total_tensor_bytes(&self) -> Option<u64> {
        self.tensors
            .iter()
            .try_fold(0u64, |n, t| n.checked_add(tensor_bytes(t)?))
    }
}

/// A low-level read failure, before the reader knows which part of the header it was in.
enum Raw {
    Eof,
    Io(io::Error),
    TooLong {
        what: &'static str,
        count: u64,
        limit: u64,
    },
    Utf8,
    ValueType(u32),
}

impl From<io::Error> for Raw {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Self::Eof
        } else {
            Self::Io(e)
        }
    }
}

impl Raw {
    /// Attaches the part of the header being read; the text is only built on failure, since a
    /// header holds hundreds of thousands of strings.
    fn at(self, what: impl FnOnce() -> String) -> GgufError {
        match self {
            Self::Eof => GgufError::Truncated { what: what() },
            Self::Io(e) => GgufError::Io(e),
            Self::TooLong {
                what: w,
                count,
                limit,
            } => GgufError::TooLarge {
                what: format!("the {w} in {}", what()),
                count,
                limit,
            },
            Self::Utf8 => GgufError::BadUtf8 { what: what() },
            Self::ValueType(ty) => GgufError::UnknownValueType { what: what(), ty },
        }
    }
}

/// A reader that counts the bytes it consumes, to know where the tensor data starts.
struct Src<R> {
    r: R,
    pos: u64,
    scratch: Vec<u8>,
}

impl<R: Read> Src<R> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Raw> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, Raw> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, Raw> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Raw> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length-prefixed string, checked against `limit` before any byte of it is read.
    fn string(&mut self, limit: u64) -> Result<String, Raw> {
        let len = self.u64()?;
        if len > limit {
            return Err(Raw::TooLong {
                what: "string length",
                count: len,
                limit,
            });
        }
        // `take` + `read_to_end` grows the buffer with the bytes that arrive, so a length the
        // file does not back costs nothing.
        let mut buf = Vec::new();
        let got = (&mut self.r).take(len).read_to_end(&mut buf)? as u64;
        self.pos += got;
        if got < len {
            return Err(Raw::Eof);
        }
        String::from_utf8(buf).map_err(|_| Raw::Utf8)
    }

    fn skip(&mut self, mut n: u64) -> Result<(), Raw> {
        if self.scratch.is_empty() {
            self.scratch = vec![0; 8192];
        }
        while n > 0 {
            let k = n.min(self.scratch.len() as u64) as usize;
            self.r.read_exact(&mut self.scratch[..k])?;
            self.pos += k as u64;
            n -= k as u64;
        }
        Ok(())
    }

    fn skip_string(&mut self, limit: u64) -> Result<(), Raw> {
        let len = self.u64()?;
        if len > limit {
            return Err(Raw::TooLong {
                what: "string length",
                count: len,
                limit,
            });
        }
        self.skip(len)
    }
}

/// Bytes of one element of a fixed-size GGUF value type.
fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

fn read_value<R: Read>(
    src: &mut Src<R>,
    ty: u32,
    limits: &Limits,
    depth: u32,
) -> Result<MetaValue, Raw> {
    Ok(match ty {
        0 => MetaValue::U8(src.u8()?),
        1 => MetaValue::I8(i8::from_le_bytes(src.array()?)),
        2 => MetaValue::U16(u16::from_le_bytes(src.array()?)),
        3 => MetaValue::I16(i16::from_le_bytes(src.array()?)),
        4 => MetaValue::U32(src.u32()?),
        5 => MetaValue::I32(i32::from_le_bytes(src.array()?)),
        6 => MetaValue::F32(f32::from_le_bytes(src.array()?)),
        7 => MetaValue::Bool(src.u8()? != 0),
        8 => MetaValue::Str(src.string(limits.max_string)?),
        9 => MetaValue::Array(read_array(src, limits, depth + 1)?),
        10 => MetaValue::U64(src.u64()?),
        11 => MetaValue::I64(i64::from_le_bytes(src.array()?)),
        12 => MetaValue::F64(f64::from_le_bytes(src.array()?)),
        _ => return Err(Raw::ValueType(ty)),
    })
}

/// The element type and length of an array, both checked.
fn array_head<R: Read>(src: &mut Src<R>, limits: &Limits, depth: u32) -> Result<(u32, u64), Raw> {
    if depth > MAX_ARRAY_DEPTH {
        return Err(Raw::TooLong {
            what: "nesting depth of arrays",
            count: depth.into(),
            limit: MAX_ARRAY_DEPTH.into(),
        });
    }
    let elem_type = src.u32()?;
    if elem_type > 12 {
        return Err(Raw::ValueType(elem_type));
    }
    let len = src.u64()?;
    if len > limits.max_array {
        return Err(Raw::TooLong {
            what: "array length",
            count: len,
            limit: limits.max_array,
        });
    }
    Ok((elem_type, len))
}

fn read_array<R: Read>(src: &mut Src<R>, limits: &Limits, depth: u32) -> Result<MetaArray, Raw> {
    let (elem_type, len) = array_head(src, limits, depth)?;
    let values = if len <= limits.keep_array {
        // No `with_capacity(len)`: the vector grows only with elements the file really holds.
        let mut values = Vec::new();
        for _ in 0..len {
            values.push(read_value(src, elem_type, limits, depth)?);
        }
        Some(values)
    } else {
        skip_elements(src, elem_type, len, limits, depth)?;
        None
    };
    Ok(MetaArray {
        elem_type,
        len,
        values,
    })
}

fn skip_elements<R: Read>(
    src: &mut Src<R>,
    elem_type: u32,
    len: u64,
    limits: &Limits,
    depth: u32,
) -> Result<(), Raw> {
    if let Some(size) = fixed_size(elem_type) {
        // len ≤ max_array and size ≤ 8, but a caller may raise max_array: stay checked.
        let n = len.checked_mul(size).ok_or(Raw::TooLong {
            what: "array length",
            count: len,
            limit: u64::MAX / size,
        })?;
        return src.skip(n);
    }
    for _ in 0..len {
        if elem_type == 8 {
            src.skip_string(limits.max_string)?;
        } else {
            let (inner, inner_len) = array_head(src, limits, depth + 1)?;
            skip_elements(src, inner, inner_len, limits, depth + 1)?;
        }
    }
    Ok(())
}

/// Reads a GGUF header from `r`, which must be positioned at the start of the file; the reader
/// is left just after the last tensor info.
pub fn read_header(r: impl Read, limits: &Limits) -> Result<GgufHeader, GgufError> {
    let mut src = Src {
        r: r.take(limits.max_header_bytes),
        pos: 0,
        scratch: Vec::new(),
    };
    let header = read_header_within(&mut src, limits);
    // A header that runs into the byte bound reads as truncated there; it is too long instead.
    match header {
        Err(GgufError::Truncated { what }) if src.r.limit() == 0 => Err(GgufError::TooLarge {
            what: format!("the header size in bytes (reached inside {what})"),
            count: limits.max_header_bytes.saturating_add(1),
            limit: limits.max_header_bytes,
        }),
        other => other,
    }
}

fn read_header_within<R: Read>(src: &mut Src<R>, limits: &Limits) -> Result<GgufHeader, GgufError> {
    let magic: [u8; 4] = src
        .array()
        .map_err(|e| e.at(|| "the magic number".into()))?;
    if magic != MAGIC {
        return Err(GgufError::BadMagic { found: magic });
    }
    let version = src
        .u32()
        .map_err(|e| e.at(|| "the version number".into()))?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion(version));
    }
    let counts = || "the tensor and metadata counts".to_owned();
    let n_tensors = src.u64().map_err(|e| e.at(counts))?;
    let n_kv = src.u64().map_err(|e| e.at(counts))?;
    if n_tensors > limits.max_tensors {
        return Err(GgufError::TooLarge {
            what: "the tensor count".into(),
            count: n_tensors,
            limit: limits.max_tensors,
        });
    }
    if n_kv > limits.max_kv {
        return Err(GgufError::TooLarge {
            what: "the metadata count".into(),
            count: n_kv,
            limit: limits.max_kv,
        });
    }

    // Capacities are capped: the counts are within limits but not yet backed by bytes.
    let mut metadata = Vec::with_capacity(n_kv.min(256) as usize);
    let mut keys = HashSet::new();
    for i in 0..n_kv {
        let key = src
            .string(limits.max_string)
            .map_err(|e| e.at(|| format!("the key of metadata entry {i}")))?;
        let ty = src
            .u32()
            .map_err(|e| e.at(|| format!("the value type of metadata key `{key}`")))?;
        let value = read_value(src, ty, limits, 0)
            .map_err(|e| e.at(|| format!("the value of metadata key `{key}`")))?;
        if !keys.insert(key.clone()) {
            return Err(GgufError::Inconsistent(format!(
                "metadata key `{key}` appears more than once; each key is expected once"
            )));
        }
        metadata.push((key, value));
    }

    let mut tensors = Vec::with_capacity(n_tensors.min(4096) as usize);
    let mut names = HashSet::new();
    for i in 0..n_tensors {
        let name = src
            .string(limits.max_string)
            .map_err(|e| e.at(|| format!("the name of tensor info {i}")))?;
        let at = || format!("the tensor info of `{name}`");
        let n_dims = src.u32().map_err(|e| e.at(at))?;
        if n_dims > limits.max_dims {
            return Err(GgufError::TooLarge {
                what: format!("the dimension count of tensor `{name}`"),
                count: n_dims.into(),
                limit: limits.max_dims.into(),
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(src.u64().map_err(|e| e.at(at))?);
        }
        let ggml_type = src.u32().map_err(|e| e.at(at))?;
        let offset = src.u64().map_err(|e| e.at(at))?;
        if !names.insert(name.clone()) {
            return Err(GgufError::Inconsistent(format!(
                "tensor `{name}` appears more than once; each tensor name is expected once"
            )));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
        });
    }

    let header = GgufHeader {
        version,
        metadata,
        tensors,
        header_bytes: src.pos,
    };
    if let Some(v) = header.get("general.alignment") {
        let ok = matches!(v, MetaValue::U32(a) if a.is_power_of_two());
        if !ok {
            return Err(GgufError::Inconsistent(format!(
                "`general.alignment` is {v} ({}); a uint32 power of two is expected",
                v.type_name()
            )));
        }
    }
    Ok(header)
}

/// Reads the header of the GGUF file at `path`, never its tensor data.
pub fn read_file(path: &Path) -> Result<GgufHeader, GgufError> {
    let file = File::open(path)?;
    // A device or FIFO never ends or ends nowhere meaningful; only a file has a header.
    if !file.metadata()?.is_file() {
        return Err(GgufError::NotAFile);
    }
    read_header(BufReader::new(file), &Limits::default())
}

/// Reads the header of the GGUF file at `path` and derives its model spec, named after the
/// file's stem.
pub fn spec_from_file(path: &Path) -> Result<ModelSpec, GgufError> {
    let header = read_file(path)?;
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let stem = path
        .file_stem()
        .map_or_else(|| file_name.clone(), |s| s.to_string_lossy().into_owned());
    derive(&header, &stem, &file_name)
}

/// Elements per block and bytes per block of ggml type `ty` (ggml's `blck_size`, `type_size`).
pub fn ggml_block(ty: u32) -> Option<(u64, u64)> {
    Some(match ty {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        34 => (256, 54),  // TQ1_0
        35 => (256, 66),  // TQ2_0
        39 => (32, 17),   // MXFP4
        _ => return None,
    })
}

/// ggml's name of type `ty` (`q4_k`, `iq4_xs`, ...).
pub fn ggml_type_name(ty: u32) -> Option<&'static str> {
    Some(match ty {
        0 => "f32",
        1 => "f16",
        2 => "q4_0",
        3 => "q4_1",
        6 => "q5_0",
        7 => "q5_1",
        8 => "q8_0",
        9 => "q8_1",
        10 => "q2_k",
        11 => "q3_k",
        12 => "q4_k",
        13 => "q5_k",
        14 => "q6_k",
        15 => "q8_k",
        16 => "iq2_xxs",
        17 => "iq2_xs",
        18 => "iq3_xxs",
        19 => "iq1_s",
        20 => "iq4_nl",
        21 => "iq3_s",
        22 => "iq2_s",
        23 => "iq4_xs",
        24 => "i8",
        25 => "i16",
        26 => "i32",
        27 => "i64",
        28 => "f64",
        29 => "iq1_m",
        30 => "bf16",
        34 => "tq1_0",
        35 => "tq2_0",
        39 => "mxfp4",
        _ => return None,
    })
}

fn ggml_label(ty: u32) -> &'static str {
    ggml_type_name(ty).unwrap_or("an id ggml does not define")
}

/// The [`QuantType`] of ggml type `ty`, for the types tiersim's model spec knows.
pub fn quant_type(ty: u32) -> Option<QuantType> {
    use QuantType::*;
    Some(match ty {
        0 => F32,
        1 => F16,
        2 => Q4_0,
        3 => Q4_1,
        6 => Q5_0,
        7 => Q5_1,
        8 => Q8_0,
        10 => Q2K,
        11 => Q3K,
        12 => Q4K,
        13 => Q5K,
        14 => Q6K,
        15 => Q8K,
        16 => Iq2Xxs,
        17 => Iq2Xs,
        18 => Iq3Xxs,
        20 => Iq4Nl,
        21 => Iq3S,
        23 => Iq4Xs,
        30 => Bf16,
        _ => return None,
    })
}

/// Exact bytes of a tensor's data, as ggml computes them; `None` for a type ggml does not
/// define, a row length that is not a whole number of blocks, or a size that overflows.
pub fn tensor_bytes(info: &TensorInfo) -> Option<u64> {
    let (block, size) = ggml_block(info.ggml_type)?;
    let row = info.dims.first().copied().unwrap_or(1);
    if row % block != 0 {
        return None;
    }
    (info.elements()? / block).checked_mul(size)
}

/// Derives the model spec a GGUF header describes, named `name`; evidence cites the header of
/// `name`. See [`spec_from_file`] to read and derive in one step.
///
/// The architecture comes from `general.architecture` and the `<arch>.*` keys, the vocabulary
/// and tied output from the embedding and output tensors, the per-layer vectors and gating from
/// the tensors of block 0, and the quantisation from every block matrix's type: the most common
/// type is the default and every (tensor, layers) that differs is an override. The spec is then
/// checked to reproduce the exact bytes of the tensors it models; tensors it has no field for
/// (e.g. llama 3's `rope_freqs`) are named in its evidence.
pub fn to_model_spec(h: &GgufHeader, name: &str) -> Result<ModelSpec, GgufError> {
    derive(h, name, name)
}

fn inconsistent(msg: String) -> GgufError {
    GgufError::Inconsistent(msg)
}

/// An unsigned metadata integer; a per-layer array is accepted when all its values agree.
fn meta_uint(h: &GgufHeader, key: &str) -> Result<Option<u64>, GgufError> {
    let Some(v) = h.get(key) else {
        return Ok(None);
    };
    if let Some(n) = v.as_u64() {
        return Ok(Some(n));
    }
    let first = match v {
        MetaValue::Array(MetaArray {
            values: Some(values),
            ..
        }) => values
            .first()
            .and_then(MetaValue::as_u64)
            .map(|f| (f, values)),
        _ => None,
    };
    match first {
        Some((first, values)) if values.iter().all(|x| x.as_u64() == Some(first)) => {
            Ok(Some(first))
        }
        Some(_) => Err(inconsistent(format!(
            "`{key}` varies from layer to layer ({v}); tiersim's model spec expects one value for \
             every layer"
        ))),
        None => Err(inconsistent(format!(
            "`{key}` has type {} ({v}); an unsigned integer is expected",
            v.type_name()
        ))),
    }
}

fn meta_u32(h: &GgufHeader, key: &str) -> Result<Option<u32>, GgufError> {
    meta_uint(h, key)?
        .map(|n| {
            u32::try_from(n).map_err(|_| {
                inconsistent(format!(
                    "`{key}` is {n}, which does not fit the model spec's 32 bits"
                ))
            })
        })
        .transpose()
}

fn req_u32(h: &GgufHeader, key: &str) -> Result<u32, GgufError> {
    meta_u32(h, key)?.ok_or_else(|| GgufError::MissingKey(key.to_owned()))
}

fn dim_u32(t: &TensorInfo, i: usize) -> Result<u32, GgufError> {
    let d = t.dims.get(i).copied().ok_or_else(|| {
        inconsistent(format!(
            "tensor `{}` has {} dimensions; at least {} are expected",
            t.name,
            t.dims.len(),
            i + 1
        ))
    })?;
    u32::try_from(d).map_err(|_| {
        inconsistent(format!(
            "tensor `{}` has a dimension of {d}, which does not fit the model spec's 32 bits",
            t.name
        ))
    })
}

fn quant_of(t: &TensorInfo) -> Result<QuantType, GgufError> {
    quant_type(t.ggml_type).ok_or_else(|| GgufError::UnknownTensorType {
        name: t.name.clone(),
        ty: t.ggml_type,
    })
}

fn bytes_of(t: &TensorInfo) -> Result<u64, GgufError> {
    if let Some(b) = tensor_bytes(t) {
        return Ok(b);
    }
    match ggml_block(t.ggml_type) {
        None => Err(GgufError::UnknownTensorType {
            name: t.name.clone(),
            ty: t.ggml_type,
        }),
        Some((block, _)) => Err(inconsistent(format!(
            "tensor `{}` of shape {:?} cannot be sized as {}: its rows must be a whole number of \
             {block}-element blocks and its size must fit 64 bits",
            t.name,
            t.dims,
            ggml_label(t.ggml_type)
        ))),
    }
}

/// Layer indices as LayerSet's text: `[0, 1, 2, 3, 6, 9]` → `"0-3,6,9"`.
fn compress(layers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < layers.len() {
        let lo = layers[i];
        let mut hi = lo;
        while i + 1 < layers.len() && layers[i + 1] == hi + 1 {
            i += 1;
            hi = layers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if hi == lo {
            out.push_str(&lo.to_string());
        } else {
            out.push_str(&format!("{lo}-{hi}"));
        }
        i += 1;
    }
    out
}

fn layer_set(layers: &[u32]) -> Result<LayerSet, GgufError> {
    LayerSet::parse(&compress(layers)).map_err(|e| inconsistent(e.to_string()))
}

/// The global layers of llama.cpp architectures that hard-code their sliding-window pattern
/// (`hparams.set_swa_pattern(n)`: every `n`-th layer attends globally) rather than store it.
fn arch_swa_pattern(arch: &str) -> Option<u32> {
    match arch {
        "gemma3" => Some(6),
        "gemma2" => Some(2),
        _ => None,
    }
}

/// A per-layer sliding-window flag array (true: windowed) as a period whose last layer is
/// global, if it is one.
fn pattern_of_flags(flags: &[MetaValue]) -> Option<u32> {
    let swa: Vec<bool> = flags
        .iter()
        .map(|v| match v {
            MetaValue::Bool(b) => Some(*b),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let n = u32::try_from(swa.len()).ok()?;
    (1..=n).find(|&p| {
        swa.iter()
            .enumerate()
            .all(|(i, &w)| w != (i as u32 + 1).is_multiple_of(p))
    })
}

/// A block tensor's place in the model, by its name without the `blk.N.` prefix.
enum Part {
    Matrix(BlockTensor),
    Norm,
    HeadNorm,
    Bias,
    Other,
}

fn classify(rest: &str, t: &TensorInfo, d_model: u64, head_dim: u64) -> Part {
    let one_d = |n: u64| t.dims.len() == 1 && t.dims[0] == n;
    if let Some(base) = rest.strip_suffix(".weight") {
        if let Some(bt) = BlockTensor::ALL.iter().find(|bt| bt.name() == base) {
            return Part::Matrix(*bt);
        }
        if matches!(base, "attn_q_norm" | "attn_k_norm") && one_d(head_dim) {
            return Part::HeadNorm;
        }
        if base.ends_with("_norm") && one_d(d_model) {
            return Part::Norm;
        }
    }
    if matches!(rest, "attn_q.bias" | "attn_k.bias" | "attn_v.bias") {
        return Part::Bias;
    }
    Part::Other
}

fn derive(h: &GgufHeader, name: &str, source: &str) -> Result<ModelSpec, GgufError> {
    let src = format!("GGUF header of {source}");
    let mut ev: BTreeMap<String, String> = BTreeMap::new();
    let mut note = |field: &str, text: String| {
        ev.insert(field.to_owned(), format!("{src}: {text}"));
    };

    let arch_value = h
        .get("general.architecture")
        .ok_or_else(|| GgufError::MissingKey("general.architecture".into()))?;
    let arch = arch_value.as_str().ok_or_else(|| {
        inconsistent(format!(
            "`general.architecture` has type {}; a string is expected",
            arch_value.type_name()
        ))
    })?;
    note("arch", format!("general.architecture = {arch}"));
    let key = |s: &str| format!("{arch}.{s}");

    let n_layers = req_u32(h, &key("block_count"))?;
    note("n_layers", format!("{arch}.block_count = {n_layers}"));
    let d_model = req_u32(h, &key("embedding_length"))?;
    note("d_model", format!("{arch}.embedding_length = {d_model}"));
    let n_heads = req_u32(h, &key("attention.head_count"))?;
    note(
        "n_heads",
        format!("{arch}.attention.head_count = {n_heads}"),
    );
    if n_heads == 0 || n_layers == 0 || d_model == 0 {
        return Err(inconsistent(format!(
            "{source} declares {n_layers} layers of width {d_model} with {n_heads} heads; \
             positive figures are expected"
        )));
    }
    let n_kv_heads = match meta_u32(h, &key("attention.head_count_kv"))? {
        Some(n) => {
            note(
                "n_kv_heads",
                format!("{arch}.attention.head_count_kv = {n}"),
            );
            n
        }
        None => {
            note(
                "n_kv_heads",
                format!("no {arch}.attention.head_count_kv: llama.cpp's default, head_count"),
            );
            n_heads
        }
    };
    let head_dim = match meta_u32(h, &key("attention.key_length"))? {
        Some(n) => {
            note("head_dim", format!("{arch}.attention.key_length = {n}"));
            n
        }
        None => {
            if d_model % n_heads != 0 {
                return Err(inconsistent(format!(
                    "`{}` is absent and the embedding length {d_model} is not a multiple of the \
                     {n_heads} heads; a key length is expected",
                    key("attention.key_length")
                )));
            }
            note(
                "head_dim",
                format!("embedding_length / head_count = {d_model} / {n_heads} (no key_length)"),
            );
            d_model / n_heads
        }
    };
    let value_length = meta_u32(h, &key("attention.value_length"))?;
    if let Some(v) = value_length.filter(|&v| v != head_dim) {
        return Err(inconsistent(format!(
            "`{}` is {v} but the key length is {head_dim}; tiersim's model spec expects keys and \
             values of one length",
            key("attention.value_length")
        )));
    }
    let context_length = req_u32(h, &key("context_length"))?;
    note(
        "context_length",
        format!("{arch}.context_length = {context_length}"),
    );

    let by_name: HashMap<&str, &TensorInfo> =
        h.tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let embd = by_name.get("token_embd.weight").ok_or_else(|| {
        inconsistent(format!(
            "{source} has no `token_embd.weight` tensor; a language model's token embedding is \
             expected"
        ))
    })?;
    if dim_u32(embd, 0)? != d_model || embd.dims.len() != 2 {
        return Err(inconsistent(format!(
            "`token_embd.weight` has shape {:?}; [{d_model}, vocab] is expected",
            embd.dims
        )));
    }
    let vocab = dim_u32(embd, 1)?;
    note(
        "vocab",
        format!(
            "token_embd.weight is {:?} (ne0 = embedding_length, ne1 = vocab)",
            embd.dims
        ),
    );
    let output = by_name.get("output.weight").copied();
    if let Some(o) = output.filter(|o| o.dims != embd.dims) {
        return Err(inconsistent(format!(
            "`output.weight` has shape {:?} but `token_embd.weight` has {:?}; an output head of \
             the embedding's shape is expected",
            o.dims, embd.dims
        )));
    }
    let tied = output.is_none();
    note(
        "tied_embeddings",
        if tied {
            format!("no output.weight among the {} tensors", h.tensors.len())
        } else {
            "output.weight is present".to_owned()
        },
    );

    // Every block tensor, by layer and role; names outside the spec's layout are kept apart so
    // the evidence can say what the spec leaves out.
    let mut matrices: BTreeMap<BlockTensor, Vec<(u32, &TensorInfo)>> = BTreeMap::new();
    let mut block0_norms = 0u32;
    let mut block0_head_norms = 0u32;
    let mut block0_bias = 0u32;
    let mut modelled_bytes = 0u64;
    let mut unmodelled: Vec<(&str, u64)> = Vec::new();
    let mut routed_layers: HashSet<u32> = HashSet::new();
    let mut layers_seen: HashSet<u32> = HashSet::new();
    for t in &h.tensors {
        let bytes = bytes_of(t)?;
        let parsed = t.name.strip_prefix("blk.").and_then(|r| r.split_once('.'));
        let counted = match parsed {
            None => matches!(
                t.name.as_str(),
                "token_embd.weight" | "output.weight" | "output_norm.weight"
            ),
            Some((idx, rest)) => {
                let layer: u32 = idx.parse().map_err(|_| {
                    inconsistent(format!(
                        "tensor `{}` has no layer number after `blk.`; `blk.N.` is expected",
                        t.name
                    ))
                })?;
                layers_seen.insert(layer);
                if layer >= n_layers {
                    return Err(inconsistent(format!(
                        "tensor `{}` belongs to layer {layer} but `{}` is {n_layers}; layers \
                         below the block count are expected",
                        t.name,
                        key("block_count")
                    )));
                }
                match classify(rest, t, d_model.into(), head_dim.into()) {
                    Part::Matrix(bt) => {
                        if bt == BlockTensor::FfnGateInp {
                            routed_layers.insert(layer);
                        }
                        matrices.entry(bt).or_default().push((layer, t));
                        true
                    }
                    Part::Norm => {
                        block0_norms += u32::from(layer == 0);
                        true
                    }
                    Part::HeadNorm => {
                        block0_head_norms += u32::from(layer == 0);
                        true
                    }
                    Part::Bias => {
                        block0_bias += u32::from(layer == 0);
                        true
                    }
                    Part::Other => false,
                }
            }
        };
        if counted {
            modelled_bytes = modelled_bytes.checked_add(bytes).ok_or_else(|| {
                inconsistent(format!(
                    "the tensors of {source} add up to more than 2^64 bytes"
                ))
            })?;
        } else {
            unmodelled.push((t.name.as_str(), bytes));
        }
    }
    // Every layer must have tensors: this also bounds `n_layers` by the tensor count before
    // anything is sized by it.
    if let Some(empty) = (0..n_layers).find(|l| !layers_seen.contains(l)) {
        return Err(inconsistent(format!(
            "`{}` is {n_layers} but layer {empty} has no tensors; a tensor set for every layer \
             is expected",
            key("block_count")
        )));
    }
    let has = |bt: BlockTensor| matrices.contains_key(&bt);
    let ffn_gated = has(BlockTensor::FfnGate)
        || has(BlockTensor::FfnGateExps)
        || has(BlockTensor::FfnGateShexp);
    note(
        "ffn_gated",
        format!(
            "the blocks have {} ffn_gate, ffn_gate_exps or ffn_gate_shexp matrix",
            if ffn_gated { "an" } else { "no" }
        ),
    );
    note(
        "norms_per_layer",
        format!("block 0 has {block0_norms} *_norm.weight vectors of {d_model}"),
    );
    note(
        "head_norms_per_layer",
        format!("block 0 has {block0_head_norms} attn_q_norm/attn_k_norm vectors of {head_dim}"),
    );
    let qkv_bias = block0_bias == 3;
    if block0_bias != 0 && !qkv_bias {
        return Err(inconsistent(format!(
            "block 0 of {source} has {block0_bias} of the attn_q, attn_k and attn_v biases; all \
             three or none are expected"
        )));
    }
    note(
        "qkv_bias",
        format!(
            "block 0 has {} attn_q, attn_k and attn_v biases",
            if qkv_bias { "the" } else { "no" }
        ),
    );

    let n_experts = meta_u32(h, &key("expert_count"))?.unwrap_or(0);
    let ffn_key = key("feed_forward_length");
    let ffn_dim = match meta_u32(h, &ffn_key)? {
        Some(n) => {
            note("ffn_dim", format!("{ffn_key} = {n}"));
            n
        }
        None if n_experts > 0 => 0,
        None => return Err(GgufError::MissingKey(ffn_key)),
    };
    let moe = if n_experts == 0 {
        None
    } else {
        let experts_per_token = req_u32(h, &key("expert_used_count"))?;
        let expert_ffn_dim = match meta_u32(h, &key("expert_feed_forward_length"))? {
            Some(n) => n,
            None if ffn_dim > 0 => ffn_dim,
            None => return Err(GgufError::MissingKey(key("expert_feed_forward_length"))),
        };
        // DeepSeek-style models size the shared expert as a count of experts, not a key of its
        // own; the tensor's shape is the one figure every architecture agrees on.
        let shared_expert_ffn_dim = match meta_u32(h, &key("expert_shared_feed_forward_length"))? {
            Some(n) => n,
            None => match matrices
                .get(&BlockTensor::FfnUpShexp)
                .and_then(|v| v.first())
            {
                Some((_, t)) => dim_u32(t, 1)?,
                None => 0,
            },
        };
        if routed_layers.is_empty() {
            return Err(inconsistent(format!(
                "`{}` is {n_experts} but no layer has an `ffn_gate_inp` router; routed layers \
                 are expected",
                key("expert_count")
            )));
        }
        let dense: Vec<u32> = (0..n_layers)
            .filter(|l| !routed_layers.contains(l))
            .collect();
        let dense_layers = if dense.is_empty() {
            None
        } else {
            Some(layer_set(&dense)?)
        };
        note(
            "moe",
            format!(
                "{arch}.expert_count = {n_experts}, expert_used_count = {experts_per_token}, \
                 expert FFN {expert_ffn_dim}, shared expert FFN {shared_expert_ffn_dim}; dense \
                 layers (no ffn_gate_inp): {}",
                if dense.is_empty() {
                    "none".to_owned()
                } else {
                    compress(&dense)
                }
            ),
        );
        Some(MoeSpec {
            n_experts,
            experts_per_token,
            expert_ffn_dim,
            shared_expert_ffn_dim,
            dense_layers,
        })
    };

    let swa_key = key("attention.sliding_window");
    let sliding_window = match meta_u32(h, &swa_key)? {
        None | Some(0) => None,
        Some(window) => {
            let pattern_key = key("attention.sliding_window_pattern");
            let stored = match h.get(&pattern_key) {
                None => None,
                Some(MetaValue::Array(MetaArray {
                    values: Some(flags),
                    ..
                })) => Some(pattern_of_flags(flags).ok_or_else(|| {
                    inconsistent(format!(
                        "`{pattern_key}` marks windowed layers in no repeating pattern with a \
                         global last layer; tiersim's model spec expects one"
                    ))
                })?),
                Some(_) => meta_u32(h, &pattern_key)?,
            };
            match stored.or_else(|| arch_swa_pattern(arch)) {
                Some(pattern) => {
                    note("sliding_window.window", format!("{swa_key} = {window}"));
                    note(
                        "sliding_window.pattern",
                        match stored {
                            Some(_) => {
                                format!("{pattern_key} gives every {pattern}th layer global")
                            }
                            None => format!(
                                "llama.cpp hard-codes set_swa_pattern({pattern}) for {arch}: \
                                 every {pattern}th layer is global"
                            ),
                        },
                    );
                    Some(SlidingWindow { window, pattern })
                }
                None => {
                    // llama.cpp reads no window for such an architecture and attends globally.
                    note(
                        "sliding_window",
                        format!(
                            "{swa_key} = {window} is ignored, as llama.cpp ignores it for {arch}"
                        ),
                    );
                    None
                }
            }
        }
    };

    // Quantisation: the most common type among block matrices (the router excluded, since the
    // spec takes it as f32 unless told otherwise) is the default.
    let mut counts: Vec<(QuantType, usize)> = Vec::new();
    let mut n_matrices = 0usize;
    let mut typed: BTreeMap<BlockTensor, Vec<(u32, QuantType)>> = BTreeMap::new();
    for (bt, list) in &matrices {
        for (layer, t) in list {
            let q = quant_of(t)?;
            typed.entry(*bt).or_default().push((*layer, q));
            if *bt != BlockTensor::FfnGateInp {
                n_matrices += 1;
                match counts.iter_mut().find(|(c, _)| *c == q) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((q, 1)),
                }
            }
        }
    }
    // Ties go to the type met first in block-tensor order, so the choice is stable.
    let (default, default_count) = counts
        .iter()
        .copied()
        .reduce(|best, c| if c.1 > best.1 { c } else { best })
        .ok_or_else(|| {
            inconsistent(format!(
                "{source} has no attention or FFN matrices in its blocks; a transformer is \
                 expected"
            ))
        })?;
    note(
        "quant.default",
        format!("{default_count} of the {n_matrices} block matrices are {default}"),
    );
    let token_embd = quant_of(embd)?;
    note(
        "quant.token_embd",
        format!("token_embd.weight is {token_embd}"),
    );
    let output_type = output.map(quant_of).transpose()?;
    if let Some(o) = output_type {
        note("quant.output", format!("output.weight is {o}"));
    }

    let mut groups: Vec<(QuantType, Option<String>, Vec<BlockTensor>)> = Vec::new();
    for (bt, list) in &typed {
        let expected = if *bt == BlockTensor::FfnGateInp {
            QuantType::F32
        } else {
            default
        };
        let mut by_type: Vec<(QuantType, Vec<u32>)> = Vec::new();
        for &(layer, q) in list {
            if q == expected {
                continue;
            }
            match by_type.iter_mut().find(|(t, _)| *t == q) {
                Some((_, layers)) => layers.push(layer),
                None => by_type.push((q, vec![layer])),
            }
        }
        for (q, mut layers) in by_type {
            layers.sort_unstable();
            // Differing on every layer that has the tensor needs no layer list.
            let set = (layers.len() != list.len()).then(|| compress(&layers));
            match groups.iter_mut().find(|(t, s, _)| *t == q && *s == set) {
                Some((_, _, tensors)) => tensors.push(*bt),
                None => groups.push((q, set, vec![*bt])),
            }
        }
    }
    let overrides = groups
        .into_iter()
        .map(|(ty, set, tensors)| {
            Ok(QuantOverride {
                tensors,
                layers: set
                    .map(|s| LayerSet::parse(&s).map_err(|e| inconsistent(e.to_string())))
                    .transpose()?,
                ty,
            })
        })
        .collect::<Result<Vec<_>, GgufError>>()?;
    if !overrides.is_empty() {
        note(
            "quant.overrides",
            format!(
                "the block matrices whose type differs from {default} (a router's from f32), by \
                 layer"
            ),
        );
    }

    let unmodelled_bytes = unmodelled
        .iter()
        .fold(0u64, |n, (_, b)| n.saturating_add(*b));
    if !unmodelled.is_empty() {
        let mut names: Vec<&str> = unmodelled.iter().take(8).map(|(n, _)| *n).collect();
        if unmodelled.len() > names.len() {
            names.push("...");
        }
        note(
            "unmodelled_tensors",
            format!(
                "{} tensors the spec has no field for, {} B not in its model size: {}",
                unmodelled.len(),
                grouped_int(unmodelled_bytes),
                names.join(", ")
            ),
        );
    }
    note(
        "model_size",
        format!(
            "the {} modelled tensors hold {} B, which the spec reproduces exactly",
            h.tensors.len() - unmodelled.len(),
            grouped_int(modelled_bytes)
        ),
    );

    let general_name = h
        .get("general.name")
        .and_then(MetaValue::as_str)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let mut description = format!(
        "Derived from the GGUF v{} header of {source}{general_name}: {} tensors, {} B of tensor \
         data.",
        h.version,
        h.tensors.len(),
        grouped_int(modelled_bytes.saturating_add(unmodelled_bytes))
    );
    if !unmodelled.is_empty() {
        description.push_str(&format!(
            " {} B in {} tensors the spec does not model are left out.",
            grouped_int(unmodelled_bytes),
            unmodelled.len()
        ));
    }

    let spec = ModelSpec {
        name: name.to_owned(),
        arch: arch.to_owned(),
        description,
        n_layers,
        d_model,
        n_heads,
        n_kv_heads,
        head_dim,
        ffn_dim,
        ffn_gated,
        vocab,
        context_length,
        tied_embeddings: tied,
        norms_per_layer: block0_norms,
        head_norms_per_layer: block0_head_norms,
        qkv_bias,
        quant: QuantSpec {
            default,
            token_embd,
            output: output_type,
            overrides,
        },
        sliding_window,
        moe,
        evidence: ev,
    };

    // The spec must move the bytes the file holds; otherwise some layer differs from block 0 in
    // a way the spec cannot say, and its traffic would be wrong.
    let derived = ModelTraffic::new(&spec).model_size.0;
    if derived != modelled_bytes as f64 {
        return Err(inconsistent(format!(
            "the spec derived from {source} accounts for {derived} tensor bytes but the tensors \
             it models hold {}; a file whose layers all match block 0's layout is expected",
            grouped_int(modelled_bytes)
        )));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOLLM2: &[u8] =
        include_bytes!("../../tests/data/gguf/smollm2-135m-instruct-q4_1.header.gguf");
    const GEMMA3: &[u8] = include_bytes!("../../tests/data/gguf/gemma-3-270m-q4_k_m.header.gguf");

    fn header(bytes: &[u8]) -> GgufHeader {
        read_header(bytes, &Limits::default()).unwrap()
    }

    fn preset(yaml: &str) -> ModelSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    /// The spec without its prose, for comparison with a preset.
    fn figures(mut s: ModelSpec) -> ModelSpec {
        s.name.clear();
        s.description.clear();
        s.evidence.clear();
        s
    }

    #[test]
    fn smollm2_header_gives_the_preset() {
        let h = header(SMOLLM2);
        assert_eq!(h.version, 3);
        assert_eq!(h.tensors.len(), 272);
        assert_eq!(h.metadata.len(), 33);
        // The fixture is exactly the header: it ends where the tensor data starts.
        assert_eq!(h.data_offset(), Some(SMOLLM2.len() as u64));
        let tokens = h.get("tokenizer.ggml.tokens").unwrap();
        assert!(matches!(
            tokens,
            MetaValue::Array(MetaArray {
                len: 49152,
                values: None,
                elem_type: 8
            })
        ));
        assert_eq!(
            h.get("general.architecture").unwrap().as_str(),
            Some("llama")
        );

        let total = h.total_tensor_bytes().unwrap();
        assert_eq!(total, 96_576_768);
        let params: u64 = h.tensors.iter().map(|t| t.elements().unwrap()).sum();
        assert_eq!(params, 134_515_008);

        let spec = to_model_spec(&h, "smollm2").unwrap();
        assert_eq!(spec.arch, "llama");
        assert_eq!(
            (
                spec.n_layers,
                spec.d_model,
                spec.n_heads,
                spec.n_kv_heads,
                spec.head_dim
            ),
            (30, 576, 9, 3, 64)
        );
        assert_eq!(
            (spec.ffn_dim, spec.vocab, spec.context_length),
            (1536, 49152, 8192)
        );
        assert!(spec.tied_embeddings && spec.ffn_gated && !spec.qkv_bias);
        assert_eq!((spec.norms_per_layer, spec.head_norms_per_layer), (2, 0));
        assert_eq!(spec.quant.default, QuantType::Q4_1);
        assert_eq!(spec.quant.token_embd, QuantType::Q8_0);
        assert!(spec.quant.overrides.is_empty() && spec.quant.output.is_none());
        assert!(spec.sliding_window.is_none() && spec.moe.is_none());
        assert!(spec.evidence["n_layers"].contains("GGUF header of smollm2"));

        let traffic = ModelTraffic::new(&spec);
        assert_eq!(traffic.model_size.0, 96_576_768.0);
        assert_eq!(traffic.n_params, 134_515_008.0);

        let yaml = include_str!("../../models/smollm2-135m-instruct-q4_1.yaml");
        assert_eq!(figures(spec), figures(preset(yaml)));
    }

    #[test]
    fn smollm2_matches_the_measured_metadata() {
        // Figures of data/llama-bench-2core-zen4/smollm2_gguf_metadata.json.
        let h = header(SMOLLM2);
        let mut by_type: BTreeMap<u32, (usize, u64, u64)> = BTreeMap::new();
        for t in &h.tensors {
            let e = by_type.entry(t.ggml_type).or_default();
            e.0 += 1;
            e.1 += tensor_bytes(t).unwrap();
            e.2 += t.elements().unwrap();
        }
        assert_eq!(by_type[&8], (1, 30_081_024, 28_311_552));
        assert_eq!(by_type[&0], (61, 140_544, 35_136));
        assert_eq!(by_type[&3], (210, 66_355_200, 106_168_320));
        assert_eq!(
            h.get("general.file_type").and_then(MetaValue::as_u64),
            Some(3)
        );
    }

    #[test]
    fn gemma3_header_gives_the_preset_traffic() {
        let h = header(GEMMA3);
        assert_eq!(h.tensors.len(), 236);
        assert_eq!(h.data_offset(), Some(GEMMA3.len() as u64));
        let total = h.total_tensor_bytes().unwrap();
        assert_eq!(total, 246_587_904);

        let spec = to_model_spec(&h, "gemma").unwrap();
        assert_eq!(spec.arch, "gemma3");
        assert_eq!(
            (
                spec.n_layers,
                spec.d_model,
                spec.n_heads,
                spec.n_kv_heads,
                spec.head_dim
            ),
            (18, 640, 4, 1, 256)
        );
        assert_eq!(
            (spec.ffn_dim, spec.vocab, spec.context_length),
            (2048, 262_144, 32768)
        );
        assert!(spec.tied_embeddings && spec.ffn_gated && !spec.qkv_bias);
        assert_eq!((spec.norms_per_layer, spec.head_norms_per_layer), (4, 2));
        assert_eq!(
            spec.sliding_window,
            Some(SlidingWindow {
                window: 512,
                pattern: 6
            })
        );
        assert_eq!(spec.quant.token_embd, QuantType::Q8_0);
        // 81 of the 126 block matrices are q5_0 (the q4_k fallback for rows of 640).
        assert_eq!(spec.quant.default, QuantType::Q5_0);
        let traffic = ModelTraffic::new(&spec);
        assert_eq!(traffic.model_size.0, total as f64);
        assert_eq!(traffic.n_params, 268_098_176.0);

        // The preset writes the same layout from q4_k with other overrides; per layer, the
        // bytes must agree.
        let p = preset(include_str!("../../models/gemma-3-270m-q4_k_m.yaml"));
        let pt = ModelTraffic::new(&p);
        assert_eq!(traffic.layers, pt.layers);
        assert_eq!(traffic.model_size, pt.model_size);
        let (mut a, b) = (figures(spec), figures(p));
        a.quant = b.quant.clone();
        assert_eq!(a, b);
    }

    #[test]
    fn gemma3_overrides_name_the_exact_layers() {
        let spec = to_model_spec(&header(GEMMA3), "gemma").unwrap();
        let text: Vec<String> = spec
            .quant
            .overrides
            .iter()
            .map(|o| {
                let names: Vec<&str> = o.tensors.iter().map(|t| t.name()).collect();
                let layers = o.layers.as_ref().map_or("all".into(), ToString::to_string);
                format!("{} {} {}", names.join("+"), layers, o.ty)
            })
            .collect();
        assert_eq!(
            text,
            [
                "attn_v 0-1,4,7,10,13,15-17 q8_0",
                "attn_output all q4_k",
                "ffn_down 0-1,4,7,10,13,15-17 q6_k",
                "ffn_down 2-3,5-6,8-9,11-12,14 q4_k",
            ]
        );
        // The spec prints as YAML and reads back unchanged.
        let yaml = serde_yaml::to_string(&spec).unwrap();
        let back: ModelSpec = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn ggml_table_agrees_with_quant_types() {
        for q in QuantType::ALL {
            let id = (0..64).find(|&id| quant_type(id) == Some(q)).unwrap();
            let (n, b) = q.block();
            assert_eq!(ggml_block(id), Some((n.into(), b.into())), "{q}");
            assert_eq!(ggml_type_name(id), Some(q.name()));
        }
        for id in 0..64 {
            assert_eq!(
                ggml_block(id).is_some(),
                ggml_type_name(id).is_some(),
                "{id}"
            );
        }
    }

    #[test]
    fn tensor_bytes_are_exact_or_none() {
        let t = |dims: Vec<u64>, ggml_type| TensorInfo {
            name: "t".into(),
            dims,
            ggml_type,
            offset: 0,
        };
        assert_eq!(tensor_bytes(&t(vec![576, 49152], 8)), Some(30_081_024));
        assert_eq!(tensor_bytes(&t(vec![640, 2048], 12)), None); // rows not whole q4_k blocks
        assert_eq!(tensor_bytes(&t(vec![256], 99)), None);
        assert_eq!(tensor_bytes(&t(vec![u64::MAX, 2], 0)), None);
        assert_eq!(tensor_bytes(&t(vec![1 << 62], 0)), None);
        assert_eq!(tensor_bytes(&t(vec![], 0)), Some(4));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for len in 0..4096 {
            assert!(
                read_header(&SMOLLM2[..len], &Limits::default()).is_err(),
                "{len}"
            );
        }
        // Inside the tensor infos, near the end of the header.
        let end = header(SMOLLM2).header_bytes as usize;
        for len in (end - 16_000..end).step_by(97).chain(end - 64..end) {
            let e = read_header(&SMOLLM2[..len], &Limits::default()).unwrap_err();
            assert!(matches!(e, GgufError::Truncated { .. }), "{len}: {e}");
        }
        let e = read_header(&SMOLLM2[..end - 4], &Limits::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the file ends inside the tensor info of `output_norm.weight`"),
            "{e}"
        );
        assert!(read_header(&SMOLLM2[..end], &Limits::default()).is_ok());
    }

    fn prefix(version: u32, n_tensors: u64, n_kv: u64) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(version.to_le_bytes());
        b.extend(n_tensors.to_le_bytes());
        b.extend(n_kv.to_le_bytes());
        b
    }

    fn string(b: &mut Vec<u8>, s: &str) {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    }

    #[test]
    fn absurd_counts_are_refused_before_reading() {
        let limits = Limits::default();
        let e = read_header(&prefix(3, 1 << 60, 0)[..], &limits).unwrap_err();
        assert!(
            matches!(e, GgufError::TooLarge { count, .. } if count == 1 << 60),
            "{e}"
        );
        let e = read_header(&prefix(3, 0, u64::MAX)[..], &limits).unwrap_err();
        assert!(matches!(e, GgufError::TooLarge { .. }), "{e}");

        // A 2^40-byte key, then a 2^40-byte string value.
        let mut b = prefix(3, 0, 1);
        b.extend((1u64 << 40).to_le_bytes());
        let e = read_header(&b[..], &limits).unwrap_err();
        assert!(
            matches!(e, GgufError::TooLarge { count, .. } if count == 1 << 40),
            "{e}"
        );
        let mut b = prefix(3, 0, 1);
        string(&mut b, "k");
        b.extend(8u32.to_le_bytes());
        b.extend((1u64 << 40).to_le_bytes());
        let e = read_header(&b[..], &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the string length in the value of metadata key `k` is 1099511627776, above the \
             limit of 16777216; a GGUF header within these limits is expected"
        );

        // Arrays: too long; long but not backed by the file; nested too deep.
        let array = |elem: u32, len: u64| {
            let mut b = prefix(3, 0, 1);
            string(&mut b, "a");
            b.extend(9u32.to_le_bytes());
            b.extend(elem.to_le_bytes());
            b.extend(len.to_le_bytes());
            b
        };
        let e = read_header(&array(4, 1 << 60)[..], &limits).unwrap_err();
        assert!(matches!(e, GgufError::TooLarge { .. }), "{e}");
        for (elem, len) in [
            (4, 1 << 27),
            (8, 1 << 27),
            (4, 1000),
            (8, 1000),
            (9, 1 << 27),
        ] {
            let e = read_header(&array(elem, len)[..], &limits).unwrap_err();
            assert!(
                matches!(e, GgufError::Truncated { .. }),
                "{elem} {len}: {e}"
            );
        }
        let e = read_header(&array(13, 1)[..], &limits).unwrap_err();
        assert!(
            matches!(e, GgufError::UnknownValueType { ty: 13, .. }),
            "{e}"
        );
        let mut b = array(9, 1);
        for _ in 0..10 {
            b.extend(9u32.to_le_bytes());
            b.extend(1u64.to_le_bytes());
        }
        let e = read_header(&b[..], &limits).unwrap_err();
        assert!(e.to_string().contains("nesting depth"), "{e}");

        // Tensor counts within the limit that the file does not back cost no memory.
        let e = read_header(&prefix(3, 60_000, 0)[..], &limits).unwrap_err();
        assert!(matches!(e, GgufError::Truncated { .. }), "{e}");
        let mut b = prefix(3, 1, 0);
        string(&mut b, "t");
        b.extend(9u32.to_le_bytes());
        let e = read_header(&b[..], &limits).unwrap_err();
        assert!(
            matches!(
                e,
                GgufError::TooLarge {
                    count: 9,
                    limit: 4,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn magic_and_version_are_checked() {
        let e = read_header(&b"GGML\x03\0\0\0"[..], &Limits::default()).unwrap_err();
        assert!(
            matches!(e, GgufError::BadMagic { found } if &found == b"GGML"),
            "{e}"
        );
        assert!(e.to_string().contains("`GGML`"), "{e}");
        let e = read_header(&prefix(1, 0, 0)[..], &Limits::default()).unwrap_err();
        assert!(matches!(e, GgufError::UnsupportedVersion(1)), "{e}");
        let e = read_header(&prefix(3u32.swap_bytes(), 0, 0)[..], &Limits::default()).unwrap_err();
        assert!(matches!(e, GgufError::UnsupportedVersion(_)), "{e}");
        // Version 2 has version 3's layout.
        let mut v2 = SMOLLM2.to_vec();
        v2[4] = 2;
        assert_eq!(header(&v2).version, 2);
        let e = read_header(&b"GG"[..], &Limits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the file ends inside the magic number; a GGUF header is expected to be complete"
        );
    }

    /// A synthetic GGUF header: metadata as (key, type, payload) and tensors as (name, dims,
    /// ggml type).
    struct Builder {
        kv: Vec<(String, u32, Vec<u8>)>,
        tensors: Vec<(String, Vec<u64>, u32)>,
    }

    impl Builder {
        fn new(arch: &str) -> Self {
            let mut b = Self {
                kv: Vec::new(),
                tensors: Vec::new(),
            };
            let mut s = Vec::new();
            string(&mut s, arch);
            b.kv.push(("general.architecture".into(), 8, s));
            b
        }

        fn u32(&mut self, key: &str, v: u32) -> &mut Self {
            self.kv.push((key.into(), 4, v.to_le_bytes().to_vec()));
            self
        }

        fn tensor(&mut self, name: &str, dims: &[u64], ty: QuantType) -> &mut Self {
            let id = (0..64).find(|&id| quant_type(id) == Some(ty)).unwrap();
            self.tensors.push((name.into(), dims.to_vec(), id));
            self
        }

        fn bytes(&self) -> Vec<u8> {
            let mut b = prefix(3, self.tensors.len() as u64, self.kv.len() as u64);
            for (k, ty, payload) in &self.kv {
                string(&mut b, k);
                b.extend(ty.to_le_bytes());
                b.extend(payload);
            }
            let mut offset = 0u64;
            for (name, dims, ty) in &self.tensors {
                string(&mut b, name);
                b.extend((dims.len() as u32).to_le_bytes());
                for d in dims {
                    b.extend(d.to_le_bytes());
                }
                b.extend(ty.to_le_bytes());
                b.extend(offset.to_le_bytes());
                offset += 4096;
            }
            b
        }
    }

    /// A small model with every feature the spec can express: untied output, q/k/v biases, head
    /// norms, per-layer overrides, a dense first layer before MoE layers with a shared expert.
    fn synthetic(moe: bool) -> Builder {
        use QuantType::*;
        let (d, ffn, vocab, layers) = (256u64, 512u64, 1000u64, 4u32);
        let mut b = Builder::new("qwen2moe");
        b.u32("qwen2moe.block_count", layers)
            .u32("qwen2moe.embedding_length", d as u32)
            .u32("qwen2moe.attention.head_count", 4)
            .u32("qwen2moe.attention.head_count_kv", 2)
            .u32("qwen2moe.context_length", 4096)
            .u32("qwen2moe.feed_forward_length", ffn as u32);
        if moe {
            b.u32("qwen2moe.expert_count", 8)
                .u32("qwen2moe.expert_used_count", 2)
                .u32("qwen2moe.expert_feed_forward_length", 256);
        }
        b.tensor("token_embd.weight", &[d, vocab], Q4K)
            .tensor("output.weight", &[d, vocab], Q6K)
            .tensor("output_norm.weight", &[d], F32);
        for l in 0..layers {
            let p = |s: &str| format!("blk.{l}.{s}");
            let v = if l == 2 { Q4K } else { Q6K };
            b.tensor(&p("attn_q.weight"), &[d, 256], Q4K)
                .tensor(&p("attn_k.weight"), &[d, 128], Q4K)
                .tensor(&p("attn_v.weight"), &[d, 128], v)
                .tensor(&p("attn_output.weight"), &[256, d], Q4K)
                .tensor(&p("attn_q.bias"), &[256], F32)
                .tensor(&p("attn_k.bias"), &[128], F32)
                .tensor(&p("attn_v.bias"), &[128], F32)
                .tensor(&p("attn_q_norm.weight"), &[64], F32)
                .tensor(&p("attn_k_norm.weight"), &[64], F32)
                .tensor(&p("attn_norm.weight"), &[d], F32)
                .tensor(&p("ffn_norm.weight"), &[d], F32);
            if moe && l > 0 {
                b.tensor(&p("ffn_gate_inp.weight"), &[d, 8], F32)
                    .tensor(&p("ffn_gate_exps.weight"), &[d, 256, 8], Q4K)
                    .tensor(&p("ffn_up_exps.weight"), &[d, 256, 8], Q4K)
                    .tensor(&p("ffn_down_exps.weight"), &[256, d, 8], Q8_0)
                    .tensor(&p("ffn_gate_shexp.weight"), &[d, 512], Q4K)
                    .tensor(&p("ffn_up_shexp.weight"), &[d, 512], Q4K)
                    .tensor(&p("ffn_down_shexp.weight"), &[512, d], Q4K);
            } else {
                b.tensor(&p("ffn_gate.weight"), &[d, ffn], Q4K)
                    .tensor(&p("ffn_up.weight"), &[d, ffn], Q4K)
                    .tensor(&p("ffn_down.weight"), &[ffn, d], Q6K);
            }
        }
        b
    }

    #[test]
    fn synthetic_headers_reproduce_their_bytes() {
        for moe in [false, true] {
            let bytes = synthetic(moe).bytes();
            let h = header(&bytes);
            let spec = to_model_spec(&h, "synthetic").unwrap();
            assert_eq!(
                ModelTraffic::new(&spec).model_size.0,
                h.total_tensor_bytes().unwrap() as f64
            );
            assert!(!spec.tied_embeddings && spec.qkv_bias);
            assert_eq!(spec.quant.output, Some(QuantType::Q6K));
            assert_eq!(spec.quant.default, QuantType::Q4K);
            assert_eq!((spec.head_norms_per_layer, spec.head_dim), (2, 64));
            let attn_v = &spec.quant.overrides[0];
            assert_eq!(attn_v.tensors, [BlockTensor::AttnV]);
            assert_eq!(attn_v.layers.as_ref().unwrap().to_string(), "0-1,3");
            if moe {
                let m = spec.moe.as_ref().unwrap();
                assert_eq!(m.dense_layers.as_ref().unwrap().to_string(), "0");
                assert_eq!(
                    (m.n_experts, m.expert_ffn_dim, m.shared_expert_ffn_dim),
                    (8, 256, 512)
                );
            }
        }
    }

    #[test]
    fn layouts_the_spec_cannot_express_are_refused() {
        use QuantType::*;
        // An extra norm on one layer only: block 0 does not describe the others.
        let mut b = synthetic(false);
        b.tensor("blk.3.post_ffw_norm.weight", &[256], F32);
        let e = to_model_spec(&header(&b.bytes()), "x").unwrap_err();
        assert!(e.to_string().contains("accounts for"), "{e}");
        // A layer beyond the block count.
        let mut b = synthetic(false);
        b.tensor("blk.4.attn_norm.weight", &[256], F32);
        let e = to_model_spec(&header(&b.bytes()), "x").unwrap_err();
        assert!(e.to_string().contains("layer 4"), "{e}");
        // A tensor the spec does not model is reported, not counted.
        let mut b = synthetic(false);
        b.tensor("rope_freqs.weight", &[32], F32);
        let spec = to_model_spec(&header(&b.bytes()), "x").unwrap();
        assert!(spec.evidence["unmodelled_tensors"].contains("rope_freqs.weight"));
        // A missing key.
        let mut b = synthetic(false);
        b.kv.retain(|(k, _, _)| k != "qwen2moe.block_count");
        let e = to_model_spec(&header(&b.bytes()), "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the GGUF metadata has no `qwen2moe.block_count` key, which the model spec needs"
        );
        // A type the spec has no name for (iq1_s = 19).
        let mut b = synthetic(false);
        b.tensors[3].2 = 19;
        let e = to_model_spec(&header(&b.bytes()), "x").unwrap_err();
        assert!(
            matches!(e, GgufError::UnknownTensorType { ty: 19, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("(iq1_s)"), "{e}");
    }

    #[test]
    fn layer_lists_compress_to_ranges() {
        assert_eq!(compress(&[0, 1, 2, 3, 6, 9]), "0-3,6,9");
        assert_eq!(compress(&[5]), "5");
        assert_eq!(compress(&[]), "");
        assert_eq!(grouped_int(96_576_768u64), "96,576,768");
        assert_eq!(grouped_int(7u64), "7");
        let flags: Vec<MetaValue> = (0..12).map(|i| MetaValue::Bool((i + 1) % 6 != 0)).collect();
        assert_eq!(pattern_of_flags(&flags), Some(6));
    }
}
