//! `sparsevec`: text `{1:1.5,3:2}/5` (1-based indices) and binary `int32 dim, int32 nnz,
//! int32 unused (0), int32 indices[nnz] (0-based), float4 values[nnz]` (big-endian), with
//! pgvector's checks in pgvector's order. Stored indices are 0-based, ascending, unique;
//! zero values are not stored.
use super::error::{check_typmod, Code, TextError};
use super::scan::{Reader, Scanner};

/// Most dimensions of a `sparsevec`.
pub const SPARSEVEC_MAX_DIM: i64 = 1_000_000_000;
/// Most non-zero elements of a `sparsevec`.
pub const SPARSEVEC_MAX_NNZ: usize = 16000;

/// A parsed sparse vector: `dim` and the non-zero elements (0-based indices).
#[derive(Clone, Debug, PartialEq)]
pub struct Sparse {
    pub dim: i32,
    pub indices: Vec<i32>,
    pub values: Vec<f32>,
}

/// Ok when 1 ≤ dim ≤ 10⁹ ("sparsevec must have at least 1 dimension" 22000,
/// "sparsevec cannot have more than 1000000000 dimensions" 54000).
pub fn check_dim(dim: i64) -> Result<(), TextError> {
    if dim < 1 {
        return Err(TextError::new(Code::DataException, "sparsevec must have at least 1 dimension"));
    }
    if dim > SPARSEVEC_MAX_DIM {
        return Err(TextError::new(
            Code::ProgramLimitExceeded,
            format!("sparsevec cannot have more than {SPARSEVEC_MAX_DIM} dimensions"),
        ));
    }
    Ok(())
}

/// Ok when 0 ≤ nnz ≤ min(16000, dim).
pub fn check_nnz(nnz: i64, dim: i64) -> Result<(), TextError> {
    if nnz < 0 {
        return Err(TextError::new(Code::DataException, "sparsevec cannot have negative number of elements"));
    }
    if nnz > SPARSEVEC_MAX_NNZ as i64 {
        return Err(TextError::new(
            Code::ProgramLimitExceeded,
            format!("sparsevec cannot have more than {SPARSEVEC_MAX_NNZ} non-zero elements"),
        ));
    }
    if nnz > dim {
        return Err(TextError::new(Code::ProgramLimitExceeded, "sparsevec cannot have more elements than dimensions"));
    }
    Ok(())
}

/// Ok when `indices[i]` is in [0, dim) and above `indices[i-1]`.
pub fn check_index(indices: &[i32], i: usize, dim: i32) -> Result<(), TextError> {
    let index = indices[i];
    if index < 0 || index >= dim {
        return Err(TextError::new(Code::DataException, "sparsevec index out of bounds"));
    }
    if i > 0 {
        if index < indices[i - 1] {
            return Err(TextError::new(Code::DataException, "sparsevec indices must be in ascending order"));
        }
        if index == indices[i - 1] {
            return Err(TextError::new(Code::DataException, "sparsevec indices must not contain duplicates"));
        }
    }
    Ok(())
}

/// Ok unless NaN or ±Inf.
pub fn check_element(v: f32) -> Result<(), TextError> {
    if v.is_nan() {
        return Err(TextError::new(Code::DataException, "NaN not allowed in sparsevec"));
    }
    if v.is_infinite() {
        return Err(TextError::new(Code::DataException, "infinite value not allowed in sparsevec"));
    }
    Ok(())
}

/// Parses `{i:v, …}/dim` (1-based indices in any order; zeros dropped; Postgres whitespace
/// around tokens). Errors: 54000 more than 16000 elements (counted by commas, first), 22P02
/// syntax (details "Vector contents must start with "{".", "Unexpected end of input.",
/// "Junk after closing."), 22003 a value out of float4 range (also underflow), 22000 NaN/Inf,
/// bad dims, typmod mismatch, index out of bounds or duplicated.
pub fn parse(text: &[u8], typmod: i32) -> Result<Sparse, TextError> {
    let mut s = Scanner::new(text);
    let max_nnz = 1 + s.text().iter().filter(|&&b| b == b',').count();
    if max_nnz > SPARSEVEC_MAX_NNZ {
        check_nnz(max_nnz as i64, i64::MAX)?;
    }
    let syntax = |s: &Scanner, detail| Err(TextError::syntax("sparsevec", s.text(), detail));
    let mut elements: Vec<(i32, f32)> = Vec::new();
    s.skip_space();
    if s.peek() != b'{' {
        return syntax(&s, Some("Vector contents must start with \"{\"."));
    }
    s.pos += 1;
    s.skip_space();
    if s.peek() == b'}' {
        s.pos += 1;
    } else {
        loop {
            s.skip_space();
            if s.peek() == 0 {
                return syntax(&s, None);
            }
            let (index, used) = s.strtol();
            if used == 0 {
                return syntax(&s, None);
            }
            // Clamped into int range so that the bounds check reports it.
            let index = index.clamp(i32::MIN as i64 + 1, i32::MAX as i64);
            s.skip_space();
            if s.peek() != b':' {
                return syntax(&s, None);
            }
            s.pos += 1;
            s.skip_space();
            let (value, used, erange) = s.strtof();
            if used == 0 {
                return syntax(&s, None);
            }
            if erange && (value == 0.0 || value.is_infinite()) {
                return Err(TextError::new(
                    Code::NumericValueOutOfRange,
                    format!("\"{}\" is out of range for type sparsevec", s.last(used)),
                ));
            }
            check_element(value)?;
            if value != 0.0 {
                elements.push(((index - 1) as i32, value));
            }
            s.skip_space();
            match s.peek() {
                b',' => s.pos += 1,
                b'}' => {
                    s.pos += 1;
                    break;
                }
                _ => return syntax(&s, None),
            }
        }
    }
    s.skip_space();
    if s.peek() != b'/' {
        return syntax(&s, Some("Unexpected end of input."));
    }
    s.pos += 1;
    s.skip_space();
    let (dim, used) = s.strtol();
    if used == 0 {
        return syntax(&s, None);
    }
    let dim = dim.clamp(i32::MIN as i64, i32::MAX as i64);
    s.skip_space();
    if s.peek() != 0 {
        return syntax(&s, Some("Junk after closing."));
    }
    check_dim(dim)?;
    check_typmod(typmod, dim)?;
    elements.sort_by_key(|e| e.0);
    let out = Sparse {
        dim: dim as i32,
        indices: elements.iter().map(|e| e.0).collect(),
        values: elements.iter().map(|e| e.1).collect(),
    };
    for i in 0..out.indices.len() {
        check_index(&out.indices, i, out.dim)?;
    }
    Ok(out)
}

/// Decodes the binary form at the start of `msg`; returns it and the bytes read. Errors in
/// pgvector's order: short message, dims, nnz, typmod, unused, each index, each value
/// (NaN/Inf, "binary representation of sparsevec cannot contain zero values").
pub fn decode(msg: &[u8], typmod: i32) -> Result<(Sparse, usize), TextError> {
    let mut r = Reader::new(msg);
    let dim = r.i32()?;
    let nnz = r.i32()?;
    let unused = r.i32()?;
    check_dim(dim as i64)?;
    check_nnz(nnz as i64, dim as i64)?;
    check_typmod(typmod, dim as i64)?;
    if unused != 0 {
        return Err(TextError::new(Code::DataException, format!("expected unused to be 0, not {unused}")));
    }
    let mut indices = Vec::with_capacity(nnz as usize);
    for i in 0..nnz as usize {
        indices.push(r.i32()?);
        check_index(&indices, i, dim)?;
    }
    let mut values = Vec::with_capacity(nnz as usize);
    for _ in 0..nnz {
        let v = r.f32()?;
        check_element(v)?;
        if v == 0.0 {
            return Err(TextError::new(Code::DataException, "binary representation of sparsevec cannot contain zero values"));
        }
        values.push(v);
    }
    Ok((Sparse { dim, indices, values }, r.pos))
}

/// Appends the binary form to `out`.
pub fn encode(dim: i32, indices: &[i32], values: &[f32], out: &mut Vec<u8>) {
    out.extend_from_slice(&dim.to_be_bytes());
    out.extend_from_slice(&(indices.len() as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    indices.iter().for_each(|i| out.extend_from_slice(&i.to_be_bytes()));
    values.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> String {
        parse(text.as_bytes(), -1).unwrap_err().message
    }

    #[test]
    fn parses_like_pgvector() {
        let s = parse(b"{3:2, 1:1.5}/5", -1).unwrap();
        assert_eq!(s, Sparse { dim: 5, indices: vec![0, 2], values: vec![1.5, 2.0] });
        assert_eq!(parse(b" { } / 3 ", 3).unwrap(), Sparse { dim: 3, indices: vec![], values: vec![] });
        assert_eq!(parse(b"{1:0,2:1}/2", -1).unwrap().indices, vec![1], "zeros are dropped");
    }

    #[test]
    fn rejects_like_pgvector() {
        let e = parse(b"[1]/2", -1).unwrap_err();
        assert_eq!((e.code, e.detail), (Code::InvalidTextRepresentation, Some("Vector contents must start with \"{\".")));
        assert_eq!(parse(b"{1:1}", -1).unwrap_err().detail, Some("Unexpected end of input."));
        assert_eq!(parse(b"{1:1}/2x", -1).unwrap_err().detail, Some("Junk after closing."));
        assert_eq!(msg("{1:1}/0"), "sparsevec must have at least 1 dimension");
        assert_eq!(msg("{1:1}/1000000001"), "sparsevec cannot have more than 1000000000 dimensions");
        assert_eq!(msg("{0:1}/2"), "sparsevec index out of bounds");
        assert_eq!(msg("{3:1}/2"), "sparsevec index out of bounds");
        assert_eq!(msg("{1:1,1:2}/2"), "sparsevec indices must not contain duplicates");
        assert_eq!(msg("{1:NaN}/2"), "NaN not allowed in sparsevec");
        assert_eq!(msg("{1:inf}/2"), "infinite value not allowed in sparsevec");
        assert_eq!(msg("{1:1e39}/2"), "\"1e39\" is out of range for type sparsevec");
        assert_eq!(msg("{1:1e-46}/2"), "\"1e-46\" is out of range for type sparsevec");
        assert_eq!(msg("{1:}/2"), "invalid input syntax for type sparsevec: \"{1:}/2\"");
        assert_eq!(msg("{:1}/2"), "invalid input syntax for type sparsevec: \"{:1}/2\"");
        let many = format!("{{{}}}/20000", (1..=16001).map(|i| format!("{i}:1")).collect::<Vec<_>>().join(","));
        assert_eq!(msg(&many), "sparsevec cannot have more than 16000 non-zero elements");
        assert_eq!(parse(b"{1:1}/2", 3).unwrap_err().message, "expected 3 dimensions, not 2");
    }

    #[test]
    fn binary_round_trip_and_errors() {
        let mut buf = Vec::new();
        encode(5, &[0, 2], &[1.5, 2.0], &mut buf);
        let (s, used) = decode(&buf, 5).unwrap();
        assert_eq!((s, used), (Sparse { dim: 5, indices: vec![0, 2], values: vec![1.5, 2.0] }, buf.len()));
        let bad = |dim: i32, idx: &[i32], vals: &[f32]| {
            let mut b = Vec::new();
            encode(dim, idx, vals, &mut b);
            decode(&b, -1).unwrap_err().message
        };
        assert_eq!(bad(2, &[1, 0], &[1.0, 1.0]), "sparsevec indices must be in ascending order");
        assert_eq!(bad(2, &[0], &[0.0]), "binary representation of sparsevec cannot contain zero values");
        assert_eq!(bad(1, &[0, 1], &[1.0, 1.0]), "sparsevec cannot have more elements than dimensions");
        assert_eq!(decode(&buf[..buf.len() - 1], -1).unwrap_err().code, Code::ProtocolViolation);
    }

    /// Random text and bytes never panic; binary encode → decode is the identity.
    #[test]
    fn random_inputs_never_panic_and_binary_round_trips() {
        use rand::{Rng, SeedableRng};
        const ALPHABET: &[u8] = b"{}/:,.-+eE0123456789 \t\ninfaNI\x00\xff";
        let mut r = rand::rngs::StdRng::seed_from_u64(2);
        for _ in 0..50_000 {
            let len = r.random_range(0..40);
            let text: Vec<u8> = (0..len).map(|_| ALPHABET[r.random_range(0..ALPHABET.len())]).collect();
            let typmod = if r.random_bool(0.5) { -1 } else { r.random_range(0..5) };
            let _ = parse(&text, typmod);
            let bytes: Vec<u8> = (0..len).map(|_| r.random()).collect();
            let _ = decode(&bytes, typmod);
        }
        for _ in 0..2_000 {
            let dim = r.random_range(1..100_000);
            let mut idx: Vec<i32> = (0..r.random_range(0..50)).map(|_| r.random_range(0..dim)).collect();
            idx.sort();
            idx.dedup();
            let vals: Vec<f32> = idx.iter().map(|_| r.random_range(0.001f32..10.0)).collect();
            let mut buf = Vec::new();
            encode(dim, &idx, &vals, &mut buf);
            let (s, used) = decode(&buf, -1).unwrap();
            assert_eq!((s, used), (Sparse { dim, indices: idx, values: vals }, buf.len()));
        }
    }
}
