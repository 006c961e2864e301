//! `vector` input: pgvector's text form `[1,2,3]`, its binary form (int16 dim, int16 unused,
//! big-endian float4s) and the `vector(n)` type modifier, with pgvector's checks in its order.
use super::scan::{Reader, Scanner};
use std::ffi::CStr;

/// Largest dimension count of a `vector` (pgvector's VECTOR_MAX_DIM).
pub const VECTOR_MAX_DIM: usize = 16000;

/// Why a `vector` input was rejected. The adapter maps each kind to pgvector's message and
/// SQLSTATE (noted on each variant).
#[derive(Clone, Debug, PartialEq)]
pub enum VectorError {
    /// 22P02 `invalid input syntax for type vector: "<literal>"`, with an optional DETAIL.
    Syntax { detail: Option<&'static str> },
    /// 22003 `"<number>" is out of range for type vector` (a float4 overflow).
    OutOfRange { number: String },
    /// 22000 `vector must have at least 1 dimension`.
    NoDimensions,
    /// 54000 `vector cannot have more than 16000 dimensions`.
    TooManyDimensions,
    /// 22000 `NaN not allowed in vector`.
    NaN,
    /// 22000 `infinite value not allowed in vector`.
    Infinite,
    /// 22000 `expected <typmod> dimensions, not <dim>`.
    DimensionMismatch { expected: i32, found: usize },
    /// 22000 `expected unused to be 0, not <n>` (binary form).
    UnusedNotZero(i16),
    /// 08P01 `insufficient data left in message` (binary form).
    ShortMessage,
    /// 22023 `invalid type modifier`: not exactly one modifier.
    InvalidTypmod,
    /// 22023 `dimensions for type vector must be at least 1`.
    TypmodTooSmall,
    /// 22023 `dimensions for type vector cannot exceed 16000`.
    TypmodTooLarge,
}

/// ERROR unless 1 ≤ dim ≤ VECTOR_MAX_DIM.
pub fn check_dim(dim: usize) -> Result<(), VectorError> {
    match dim {
        0 => Err(VectorError::NoDimensions),
        d if d > VECTOR_MAX_DIM => Err(VectorError::TooManyDimensions),
        _ => Ok(()),
    }
}

/// Rejects a dimension count that differs from a set typmod (-1 means none).
pub fn check_expected_dim(typmod: i32, dim: usize) -> Result<(), VectorError> {
    if typmod != -1 && typmod as i64 != dim as i64 {
        return Err(VectorError::DimensionMismatch { expected: typmod, found: dim });
    }
    Ok(())
}

/// Rejects NaN and ±Infinity elements.
pub fn check_element(v: f32) -> Result<(), VectorError> {
    if v.is_nan() {
        Err(VectorError::NaN)
    } else if v.is_infinite() {
        Err(VectorError::Infinite)
    } else {
        Ok(())
    }
}

/// Parses pgvector's text form `[x, y, …]` (whitespace allowed around brackets, commas and
/// numbers) and checks it against `typmod` (-1: any dimension). Work and memory are linear in
/// the literal's length, and at most VECTOR_MAX_DIM elements are kept.
pub fn parse_text(lit: &CStr, typmod: i32) -> Result<Vec<f32>, VectorError> {
    let mut sc = Scanner::new(lit.to_bytes());
    let syntax = |detail| Err(VectorError::Syntax { detail });
    sc.skip_space();
    if sc.peek() != b'[' {
        return syntax(Some("Vector contents must start with \"[\"."));
    }
    sc.pos += 1;
    sc.skip_space();
    if sc.peek() == b']' {
        return Err(VectorError::NoDimensions);
    }
    let mut out = Vec::new();
    loop {
        if out.len() == VECTOR_MAX_DIM {
            return Err(VectorError::TooManyDimensions);
        }
        sc.skip_space();
        if sc.peek() == 0 {
            return syntax(None);
        }
        let (v, used, erange) = sc.strtof();
        if used == 0 {
            return syntax(None);
        }
        if erange && v.is_infinite() {
            return Err(VectorError::OutOfRange { number: sc.last(used) });
        }
        check_element(v)?;
        out.push(v);
        sc.skip_space();
        match sc.peek() {
            b',' => sc.pos += 1,
            b']' => {
                sc.pos += 1;
                break;
            }
            _ => return syntax(None),
        }
    }
    sc.skip_space();
    if sc.peek() != 0 {
        return syntax(Some("Junk after closing right brace."));
    }
    check_dim(out.len())?;
    check_expected_dim(typmod, out.len())?;
    Ok(out)
}

/// Parses the binary form at the start of `msg` (as `vector_recv` sees the message): returns the
/// elements and the bytes consumed. Checks in pgvector's order: header, dimension range, typmod,
/// unused field, then each element (short message, NaN, Inf).
pub fn parse_binary(msg: &[u8], typmod: i32) -> Result<(Vec<f32>, usize), VectorError> {
    let mut r = Reader::new(msg);
    let short = |_| VectorError::ShortMessage;
    // Both header fields are int16, as pgvector stores pq_getmsgint(buf, 2): 0x8000 and up are
    // negative (fewer than 1 dimension; "not -25088", not "not 40448").
    let dim = r.u16().map_err(short)? as i16;
    let unused = r.u16().map_err(short)? as i16;
    let dim = if dim < 1 { return Err(VectorError::NoDimensions) } else { dim as usize };
    check_dim(dim)?;
    check_expected_dim(typmod, dim)?;
    if unused != 0 {
        return Err(VectorError::UnusedNotZero(unused));
    }
    let mut out = Vec::with_capacity(dim);
    for _ in 0..dim {
        let v = r.f32().map_err(short)?;
        check_element(v)?;
        out.push(v);
    }
    Ok((out, r.pos))
}

/// Encodes `values` in the binary form (`vector_send`).
pub fn encode_binary(values: &[f32], out: &mut Vec<u8>) {
    out.extend_from_slice(&(values.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// `vector(n)`'s typmod input: exactly one modifier, 1 ≤ n ≤ VECTOR_MAX_DIM; returns n.
pub fn parse_typmod(mods: &[i32]) -> Result<i32, VectorError> {
    let &[dim] = mods else {
        return Err(VectorError::InvalidTypmod);
    };
    if dim < 1 {
        return Err(VectorError::TypmodTooSmall);
    }
    if dim > VECTOR_MAX_DIM as i32 {
        return Err(VectorError::TypmodTooLarge);
    }
    Ok(dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<Vec<f32>, VectorError> {
        parse_text(&std::ffi::CString::new(s).unwrap(), -1)
    }

    #[test]
    fn text_accepts_pgvector_forms() {
        assert_eq!(text("[1,2,3]").unwrap(), vec![1.0, 2.0, 3.0]);
        assert_eq!(text(" \t[ 1.5 , -2e3 ,4 ]\n ").unwrap(), vec![1.5, -2000.0, 4.0]);
        assert_eq!(text("[1e-50]").unwrap(), vec![0.0], "underflow rounds, like float4in");
    }

    #[test]
    fn text_rejects_like_pgvector() {
        let starts = Some("Vector contents must start with \"[\".");
        assert_eq!(text(""), Err(VectorError::Syntax { detail: starts }));
        assert_eq!(text("1,2]"), Err(VectorError::Syntax { detail: starts }));
        assert_eq!(text("[]"), Err(VectorError::NoDimensions));
        assert_eq!(text("[1,]"), Err(VectorError::Syntax { detail: None }));
        assert_eq!(text("[1,2"), Err(VectorError::Syntax { detail: None }));
        assert_eq!(text("[1 2]"), Err(VectorError::Syntax { detail: None }));
        assert_eq!(text("[1]x"), Err(VectorError::Syntax { detail: Some("Junk after closing right brace.") }));
        assert_eq!(text("[NaN]"), Err(VectorError::NaN));
        assert_eq!(text("[-inf]"), Err(VectorError::Infinite));
        assert_eq!(text("[1e39]"), Err(VectorError::OutOfRange { number: "1e39".into() }));
        assert_eq!(parse_text(c"[1,2]", 3), Err(VectorError::DimensionMismatch { expected: 3, found: 2 }));
    }

    #[test]
    fn text_dimension_limit_stops_early() {
        let ok = format!("[{}]", vec!["0"; VECTOR_MAX_DIM].join(","));
        assert_eq!(text(&ok).unwrap().len(), VECTOR_MAX_DIM);
        // A literal far past the limit fails at element 16001, without parsing the rest.
        let big = format!("[{}]", vec!["0"; 3 * VECTOR_MAX_DIM].join(","));
        assert_eq!(text(&big), Err(VectorError::TooManyDimensions));
    }

    #[test]
    fn binary_round_trips_and_rejects() {
        let mut b = Vec::new();
        encode_binary(&[1.0, -2.5], &mut b);
        assert_eq!(parse_binary(&b, -1).unwrap(), (vec![1.0, -2.5], 12));
        assert_eq!(parse_binary(&b, 3), Err(VectorError::DimensionMismatch { expected: 3, found: 2 }));
        assert_eq!(parse_binary(&b[..11], -1), Err(VectorError::ShortMessage));
        assert_eq!(parse_binary(&b[..3], -1), Err(VectorError::ShortMessage));
        assert_eq!(parse_binary(&[0, 0, 0, 0], -1), Err(VectorError::NoDimensions));
        assert_eq!(parse_binary(&[0x3e, 0x81, 0, 0], -1), Err(VectorError::TooManyDimensions)); // 16001
        assert_eq!(parse_binary(&[0xff, 0xff, 0, 0], -1), Err(VectorError::NoDimensions)); // -1, as in pgvector
        assert_eq!(parse_binary(&[0, 1, 0, 7, 0, 0, 0, 0], -1), Err(VectorError::UnusedNotZero(7)));
        // int16 header fields, as pgvector reads them.
        assert_eq!(parse_binary(&[0, 1, 0x9e, 0, 0, 0, 0, 0], -1), Err(VectorError::UnusedNotZero(-25088)));
        assert_eq!(parse_binary(&[0x9e, 0, 0, 0], -1), Err(VectorError::NoDimensions));
        assert_eq!(parse_binary(&[0, 1, 0, 0, 0x7f, 0xc0, 0, 0], -1), Err(VectorError::NaN));
        assert_eq!(parse_binary(&[0, 1, 0, 0, 0x7f, 0x80, 0, 0], -1), Err(VectorError::Infinite));
    }

    #[test]
    fn typmods() {
        assert_eq!(parse_typmod(&[3]), Ok(3));
        assert_eq!(parse_typmod(&[16000]), Ok(16000));
        assert_eq!(parse_typmod(&[]), Err(VectorError::InvalidTypmod));
        assert_eq!(parse_typmod(&[1, 2]), Err(VectorError::InvalidTypmod));
        assert_eq!(parse_typmod(&[0]), Err(VectorError::TypmodTooSmall));
        assert_eq!(parse_typmod(&[-5]), Err(VectorError::TypmodTooSmall));
        assert_eq!(parse_typmod(&[1_000_000_000]), Err(VectorError::TypmodTooLarge));
    }
}
