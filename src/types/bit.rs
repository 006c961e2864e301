//! Distances on Postgres' built-in `bit` type (`<~>` Hamming, `<%>` Jaccard) and the
//! `bit` values that `binary_quantize` builds. VarBit layout: `int32 vl_len_; int32 bit_len;
//! bits8 data[⌈bit_len/8⌉]`, most significant bit first, padding bits zero.
use super::vector::float8_datum;
use crate::fmgr::arg;
use pgrx::pg_sys;
use pgrx::prelude::*;
use vecmap_engine::kernels;

pg_function_info_v1!(hamming_distance, jaccard_distance);

/// A detoasted `bit`/`varbit` argument: its length in bits and its bytes.
pub struct BitRef<'a> {
    pub len: u32,
    pub bytes: &'a [u8],
}

impl<'a> BitRef<'a> {
    /// # Safety
    /// `fcinfo` must be valid and argument `n` a non-null bit string.
    pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> BitRef<'a> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::from_datum(arg(fcinfo, n)) }
    }

    /// # Safety
    /// `datum` must be a non-null bit string.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> BitRef<'a> {
        // SAFETY: a VarBit varlena; detoasting gives a contiguous copy with a 4-byte header.
        unsafe {
            let p = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *const u8;
            let len = *(p.add(pg_sys::VARHDRSZ) as *const i32) as u32;
            let bytes = std::slice::from_raw_parts(p.add(pg_sys::VARHDRSZ + 4), (len as usize).div_ceil(8));
            BitRef { len, bytes }
        }
    }
}

/// A zeroed bit string of `len` bits: (datum, its bytes).
pub fn new_bit<'a>(len: usize) -> (pg_sys::Datum, &'a mut [u8]) {
    let size = pg_sys::VARHDRSZ + 4 + len.div_ceil(8);
    // SAFETY: palloc0 returns `size` zeroed bytes (or ERRORs); all writes are in bounds.
    unsafe {
        let p = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        *(p.add(pg_sys::VARHDRSZ) as *mut i32) = len as i32;
        (pg_sys::Datum::from(p), std::slice::from_raw_parts_mut(p.add(pg_sys::VARHDRSZ + 4), len.div_ceil(8)))
    }
}

/// Bit i set when `positive(i)`: the `binary_quantize` result for `len` elements.
pub fn quantize(len: usize, positive: impl Fn(usize) -> bool) -> pg_sys::Datum {
    let (datum, bits) = new_bit(len);
    for i in (0..len).filter(|&i| positive(i)) {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    datum
}

/// # Safety
/// `fcinfo` must carry two non-null bit strings.
unsafe fn bit_pair<'a>(fcinfo: pg_sys::FunctionCallInfo) -> (BitRef<'a>, BitRef<'a>) {
    // SAFETY: forwarded from the caller.
    let (a, b) = unsafe { (BitRef::arg(fcinfo, 0), BitRef::arg(fcinfo, 1)) };
    if a.len != b.len {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("different bit lengths {} and {}", a.len, b.len)
        );
    }
    (a, b)
}

/// `hamming_distance(bit, bit) → float8`, operator `<~>`: number of differing bits;
/// ERROR "different bit lengths 3 and 4".
#[export_name = "vecmap_hamming_distance"]
#[pg_guard]
pub unsafe extern "C-unwind" fn hamming_distance(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (bit, bit).
    let (a, b) = unsafe { bit_pair(fcinfo) };
    float8_datum(kernels::hamming(a.bytes, b.bytes) as f64)
}

/// `jaccard_distance(bit, bit) → float8`, operator `<%>`: 1 − |a∧b|/|a∨b| (1 when a∧b is
/// empty); ERROR on different lengths.
#[export_name = "vecmap_jaccard_distance"]
#[pg_guard]
pub unsafe extern "C-unwind" fn jaccard_distance(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: STRICT (bit, bit).
    let (a, b) = unsafe { bit_pair(fcinfo) };
    float8_datum(kernels::jaccard_distance(a.bytes, b.bytes))
}
