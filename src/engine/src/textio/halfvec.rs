//! `halfvec`: text `[1,2.5,3]` and binary `int16 dim, int16 unused (0), binary16 x[dim]`
//! (big-endian), with pgvector's checks in pgvector's order. Elements are IEEE binary16 bit
//! patterns (`u16`).
use super::error::{check_typmod, Code, TextError};
use super::scan::{Reader, Scanner};

/// Most dimensions of a `halfvec` (pgvector's HALFVEC_MAX_DIM).
pub const HALFVEC_MAX_DIM: usize = 16000;

/// f32 → binary16, round to nearest even; overflow gives ±Inf (callers check).
pub fn from_f32(v: f32) -> u16 {
    half::f16::from_f32(v).to_bits()
}

/// binary16 → f32 (exact).
pub fn to_f32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
}

pub fn is_nan(h: u16) -> bool {
    h & 0x7c00 == 0x7c00 && h & 0x7fff != 0x7c00
}

pub fn is_inf(h: u16) -> bool {
    h & 0x7fff == 0x7c00
}

pub fn is_zero(h: u16) -> bool {
    h & 0x7fff == 0
}

/// Ok when 1 ≤ dim ≤ 16000: "halfvec must have at least 1 dimension" (22000),
/// "halfvec cannot have more than 16000 dimensions" (54000).
pub fn check_dim(dim: i64) -> Result<(), TextError> {
    if dim < 1 {
        return Err(TextError::new(Code::DataException, "halfvec must have at least 1 dimension"));
    }
    if dim > HALFVEC_MAX_DIM as i64 {
        return Err(TextError::new(
            Code::ProgramLimitExceeded,
            format!("halfvec cannot have more than {HALFVEC_MAX_DIM} dimensions"),
        ));
    }
    Ok(())
}

/// Ok unless NaN ("NaN not allowed in halfvec") or ±Inf ("infinite value not allowed in halfvec").
pub fn check_element(h: u16) -> Result<(), TextError> {
    if is_nan(h) {
        return Err(TextError::new(Code::DataException, "NaN not allowed in halfvec"));
    }
    if is_inf(h) {
        return Err(TextError::new(Code::DataException, "infinite value not allowed in halfvec"));
    }
    Ok(())
}

/// Parses `[x, y, …]` (Postgres whitespace allowed around every token; numbers as `strtof`
/// reads them, then rounded to binary16). Errors: 22P02 syntax (details "Vector contents must
/// start with "["." / "Junk after closing right brace."), 22003 a number beyond the half range,
/// 22000 empty / NaN / Inf / typmod mismatch, 54000 more than 16000 elements.
pub fn parse(text: &[u8], typmod: i32) -> Result<Vec<u16>, TextError> {
    let mut s = Scanner::new(text);
    let syntax = |s: &Scanner, detail| Err(TextError::syntax("halfvec", s.text(), detail));
    s.skip_space();
    if s.peek() != b'[' {
        return syntax(&s, Some("Vector contents must start with \"[\"."));
    }
    s.pos += 1;
    s.skip_space();
    if s.peek() == b']' {
        return Err(TextError::new(Code::DataException, "halfvec must have at least 1 dimension"));
    }
    let mut out = Vec::new();
    loop {
        if out.len() == HALFVEC_MAX_DIM {
            check_dim(HALFVEC_MAX_DIM as i64 + 1)?;
        }
        s.skip_space();
        if s.peek() == 0 {
            return syntax(&s, None);
        }
        let (v, used, erange) = s.strtof();
        if used == 0 {
            return syntax(&s, None);
        }
        let h = from_f32(v);
        if (erange && v.is_infinite()) || (is_inf(h) && !v.is_infinite()) {
            return Err(TextError::new(
                Code::NumericValueOutOfRange,
                format!("\"{}\" is out of range for type halfvec", s.last(used)),
            ));
        }
        check_element(h)?;
        out.push(h);
        s.skip_space();
        match s.peek() {
            b',' => s.pos += 1,
            b']' => {
                s.pos += 1;
                break;
            }
            _ => return syntax(&s, None),
        }
    }
    s.skip_space();
    if s.peek() != 0 {
        return syntax(&s, Some("Junk after closing right brace."));
    }
    check_dim(out.len() as i64)?;
    check_typmod(typmod, out.len() as i64)?;
    Ok(out)
}

/// Decodes the binary form at the start of `msg`; returns the elements and the bytes read.
/// Errors in pgvector's order: short message (08P01), dims (22000/54000), typmod,
/// "expected unused to be 0, not N", NaN/Inf elements.
pub fn decode(msg: &[u8], typmod: i32) -> Result<(Vec<u16>, usize), TextError> {
    let mut r = Reader::new(msg);
    // int16 fields, as pgvector stores pq_getmsgint(buf, 2): 0x8000 and up are negative.
    let dim = r.u16()? as i16 as i64;
    let unused = r.u16()? as i16;
    check_dim(dim)?;
    check_typmod(typmod, dim)?;
    if unused != 0 {
        return Err(TextError::new(Code::DataException, format!("expected unused to be 0, not {unused}")));
    }
    let mut out = Vec::with_capacity(dim as usize);
    for _ in 0..dim {
        let h = r.u16()?;
        check_element(h)?;
        out.push(h);
    }
    Ok((out, r.pos))
}

/// Appends the binary form of `x` (≤ 16000 elements) to `out`.
pub fn encode(x: &[u16], out: &mut Vec<u8>) {
    out.extend_from_slice(&(x.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    for h in x {
        out.extend_from_slice(&h.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(v: &[f32]) -> Vec<u16> {
        v.iter().map(|&x| from_f32(x)).collect()
    }

    fn err(text: &str) -> (Code, String, Option<&'static str>) {
        let e = parse(text.as_bytes(), -1).unwrap_err();
        (e.code, e.message, e.detail)
    }

    #[test]
    fn parses_like_pgvector() {
        assert_eq!(parse(b"[1,2,3]", -1).unwrap(), halves(&[1.0, 2.0, 3.0]));
        assert_eq!(parse(b" [ 1.5 , -2e-1 ,3 ] ", 3).unwrap(), halves(&[1.5, -0.2, 3.0]));
        assert_eq!(parse(b"[65504]", -1).unwrap(), vec![0x7bff]);
        // Below the half range rounds to zero, like pgvector.
        assert_eq!(parse(b"[1e-8]", -1).unwrap(), vec![0]);
    }

    #[test]
    fn rejects_like_pgvector() {
        use Code::*;
        assert_eq!(err("1,2"), (InvalidTextRepresentation, "invalid input syntax for type halfvec: \"1,2\"".into(), Some("Vector contents must start with \"[\".")));
        assert_eq!(err("[1,2]x").2, Some("Junk after closing right brace."));
        assert_eq!(err("[]").1, "halfvec must have at least 1 dimension");
        assert_eq!(err("[1,]").0, InvalidTextRepresentation);
        assert_eq!(err("[1 2]").0, InvalidTextRepresentation);
        assert_eq!(err("[1"), (InvalidTextRepresentation, "invalid input syntax for type halfvec: \"[1\"".into(), None));
        assert_eq!(err("[65520]"), (NumericValueOutOfRange, "\"65520\" is out of range for type halfvec".into(), None));
        assert_eq!(err("[1e39]"), (NumericValueOutOfRange, "\"1e39\" is out of range for type halfvec".into(), None));
        assert_eq!(err("[NaN]").1, "NaN not allowed in halfvec");
        assert_eq!(err("[-inf]").1, "infinite value not allowed in halfvec");
        let big = format!("[{}]", vec!["1"; 16001].join(","));
        assert_eq!(err(&big), (ProgramLimitExceeded, "halfvec cannot have more than 16000 dimensions".into(), None));
        assert_eq!(parse(b"[1,2]", 3).unwrap_err().message, "expected 3 dimensions, not 2");
        assert!(parse(b"[1]\0junk", -1).is_ok(), "a NUL ends the text like a cstring");
    }

    #[test]
    fn binary_round_trip_and_errors() {
        let x = halves(&[1.0, -2.5, 0.0, 65504.0]);
        let mut buf = Vec::new();
        encode(&x, &mut buf);
        assert_eq!(&buf[..4], &[0, 4, 0, 0]);
        assert_eq!(decode(&buf, 4).unwrap(), (x, 12));
        assert_eq!(decode(&buf[..11], -1).unwrap_err().code, Code::ProtocolViolation);
        assert_eq!(decode(&[0, 0, 0, 0], -1).unwrap_err().message, "halfvec must have at least 1 dimension");
        assert_eq!(decode(&[0, 1, 0, 1, 0, 0], -1).unwrap_err().message, "expected unused to be 0, not 1");
        assert_eq!(decode(&[0, 1, 0x9e, 0, 0, 0], -1).unwrap_err().message, "expected unused to be 0, not -25088");
        assert_eq!(decode(&[0x9e, 0, 0, 0], -1).unwrap_err().message, "halfvec must have at least 1 dimension");
        assert_eq!(decode(&[0, 1, 0, 0, 0x7e, 0], -1).unwrap_err().message, "NaN not allowed in halfvec");
        assert_eq!(decode(&[0x3e, 0x81, 0, 0], -1).unwrap_err().code, Code::ProgramLimitExceeded);
    }

    /// Random text and bytes never panic; binary encode → decode is the identity (a cheap
    /// stand-in for a cargo-fuzz target).
    #[test]
    fn random_inputs_never_panic_and_binary_round_trips() {
        use rand::{Rng, SeedableRng};
        const ALPHABET: &[u8] = b"[],.-+eE0123456789 \t\ninfaNI\x00\xff";
        let mut r = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..50_000 {
            let len = r.random_range(0..40);
            let text: Vec<u8> = (0..len).map(|_| ALPHABET[r.random_range(0..ALPHABET.len())]).collect();
            let typmod = if r.random_bool(0.5) { -1 } else { r.random_range(0..5) };
            let _ = parse(&text, typmod);
            let bytes: Vec<u8> = (0..len).map(|_| r.random()).collect();
            let _ = decode(&bytes, typmod);
        }
        for _ in 0..2_000 {
            let dim = r.random_range(1..300);
            let x: Vec<u16> = (0..dim).map(|_| from_f32(r.random_range(-65504.0f32..65504.0))).collect();
            let mut buf = Vec::new();
            encode(&x, &mut buf);
            assert_eq!(decode(&buf, dim as i32).unwrap(), (x, buf.len()));
        }
    }
}
