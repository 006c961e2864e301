//! What an operator class feeds the index: every input type becomes the f32 values the log,
//! the sidecar and the search work on.
//!
//! - `vector`: its elements (borrowed, no copy);
//! - `halfvec`: its binary16 elements widened to f32 — exact, so rerank distances equal the
//!   `halfvec` operators' (pgvector also computes them in f32 on widened halves);
//! - `bit` (`bit_hamming_ops`): one 0.0/1.0 per bit, so squared L2 distance is exactly the
//!   Hamming distance and the L2 graph orders rows as `<~>` does;
//! - `sparsevec`: densified (zeros filled in), so every distance equals the sparse one.
//!
//! Densified inputs are limited to [`MAX_DIMS`] values, the `vector` limit.
use crate::types::bit::BitRef;
use crate::types::halfvec::HalfRef;
use crate::types::sparsevec::SparseRef;
use crate::types::vector::VectorRef;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::borrow::Cow;
use vecmap_engine::textio::halfvec as hv;

/// The opclass input type of an index (its `opcintype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum InputType {
    Vector,
    Halfvec,
    Bit,
    Sparsevec,
}

/// Most values one indexed row may have (as for `vector`).
pub use vecmap_engine::textio::vector::VECTOR_MAX_DIM as MAX_DIMS;

/// ERROR 54000 for a bit string or sparse vector too long to index.
fn too_long(what: &str, n: usize) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        format!("vecmap cannot index {what} of more than {MAX_DIMS} dimensions, not {n}")
    );
}

/// The input type of the index's (single) column. Looked up once per relcache entry (every
/// scan and insert asks): kept in `rd_amcache`, which lives in `rd_indexcxt` and is reset when
/// the entry is invalidated.
///
/// # Safety
/// `index` must be an open vecmap index relation.
pub unsafe fn input_type(index: pg_sys::Relation) -> InputType {
    // SAFETY: open relation (caller); rd_amcache is NULL or the InputType stored below.
    unsafe {
        let cached = (*index).rd_amcache as *const InputType;
        if !cached.is_null() {
            return *cached;
        }
        let t = lookup_input_type(index);
        let p = pg_sys::MemoryContextAlloc((*index).rd_indexcxt, std::mem::size_of::<InputType>()) as *mut InputType;
        p.write(t);
        (*index).rd_amcache = p.cast();
        t
    }
}

/// The input type by type name (the extension is relocatable, so its type OIDs are not fixed).
unsafe fn lookup_input_type(index: pg_sys::Relation) -> InputType {
    // SAFETY: rd_opcintype has one entry per key column; a vecmap index has one.
    let typ = unsafe { *(*index).rd_opcintype };
    if typ == pg_sys::BITOID || typ == pg_sys::VARBITOID {
        return InputType::Bit;
    }
    // SAFETY: format_type_be returns a palloc'd, NUL-terminated, possibly qualified name.
    let name = unsafe { std::ffi::CStr::from_ptr(pg_sys::format_type_be(typ)).to_string_lossy().into_owned() };
    match name.rsplit('.').next().unwrap_or("") {
        "vector" => InputType::Vector,
        "halfvec" => InputType::Halfvec,
        "sparsevec" => InputType::Sparsevec,
        other => error!("vecmap: unsupported operator class input type \"{other}\""),
    }
}

/// The f32 values of a non-null datum of `typ`.
///
/// # Safety
/// `datum` must be a non-null value of `typ`, valid for `'a` (the current memory context).
pub unsafe fn values<'a>(typ: InputType, datum: pg_sys::Datum) -> Cow<'a, [f32]> {
    // SAFETY: forwarded from the caller.
    unsafe {
        match typ {
            InputType::Vector => Cow::Borrowed(VectorRef::from_datum(datum).data),
            InputType::Halfvec => Cow::Owned(HalfRef::from_datum(datum).data.iter().map(|&h| hv::to_f32(h)).collect()),
            InputType::Bit => {
                let b = BitRef::from_datum(datum);
                if b.len as usize > MAX_DIMS {
                    too_long("bit strings", b.len as usize);
                }
                Cow::Owned((0..b.len as usize).map(|i| ((b.bytes[i / 8] >> (7 - i % 8)) & 1) as f32).collect())
            }
            InputType::Sparsevec => {
                let s = SparseRef::from_datum(datum);
                if s.dim as usize > MAX_DIMS {
                    too_long("sparse vectors", s.dim as usize);
                }
                let mut dense = vec![0.0f32; s.dim.max(0) as usize];
                for (&i, &v) in s.indices.iter().zip(s.values) {
                    if let Some(x) = dense.get_mut(i as usize) {
                        *x = v;
                    }
                }
                Cow::Owned(dense)
            }
        }
    }
}
