//! Minimal access to one-dimensional, null-free Postgres arrays of fixed-width elements
//! (the `float8[]` aggregate state and the `real[]` cast result).
use pgrx::pg_sys;

const HEADER: usize = std::mem::size_of::<pg_sys::ArrayType>();
/// ARR_OVERHEAD_NONULLS(1): the header, one dimension and one lower bound, MAXALIGNed.
const DATA_OFFSET: usize = (HEADER + 8 + 7) & !7;

/// A detoasted array argument.
pub struct ArrayRef {
    ptr: *const pg_sys::ArrayType,
}

impl ArrayRef {
    /// # Safety
    /// `datum` must be a non-null array datum.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> ArrayRef {
        // SAFETY: arrays are varlenas; detoasting gives an aligned, contiguous copy if needed.
        ArrayRef { ptr: unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *const pg_sys::ArrayType } }
    }

    pub fn as_ptr(&self) -> *mut pg_sys::ArrayType {
        self.ptr as *mut _
    }

    pub fn ndim(&self) -> i32 {
        // SAFETY: `ptr` is a detoasted array (constructor invariant).
        unsafe { (*self.ptr).ndim }
    }

    pub fn has_null_bitmap(&self) -> bool {
        // SAFETY: as above; ARR_HASNULL is `dataoffset != 0`.
        unsafe { (*self.ptr).dataoffset != 0 }
    }

    pub fn elemtype(&self) -> pg_sys::Oid {
        // SAFETY: as above.
        unsafe { (*self.ptr).elemtype }
    }

    /// Length of the first dimension (0 for an empty array).
    pub fn len(&self) -> usize {
        if self.ndim() < 1 {
            return 0;
        }
        // SAFETY: ARR_DIMS follows the header and has `ndim` ≥ 1 entries.
        unsafe { *((self.ptr as *const u8).add(HEADER) as *const i32) as usize }
    }

    /// The elements of a 1-D, null-free `float8[]`.
    ///
    /// # Safety
    /// The array must be 1-D, without a null bitmap, with element type float8.
    pub unsafe fn float8s<'a>(&self) -> &'a [f64] {
        // SAFETY: for a 1-D null-free array the data start at ARR_OVERHEAD_NONULLS(1).
        unsafe { std::slice::from_raw_parts((self.ptr as *const u8).add(DATA_OFFSET) as *const f64, self.len()) }
    }
}

/// Allocates a 1-D array with `n` ≥ 1 zeroed elements of type `T` (element type `elemtype`,
/// lower bound 1), laid out exactly as `construct_array` would; returns (datum, elements).
pub fn new_array<'a, T: Copy>(elemtype: pg_sys::Oid, n: usize) -> (pg_sys::Datum, &'a mut [T]) {
    let size = DATA_OFFSET + std::mem::size_of::<T>() * n;
    // Header: varlena size, ndim, dataoffset 0 (no nulls), elemtype, then dims[0] and lbound[0].
    // SAFETY: palloc0 returns `size` zeroed, MAXALIGNed bytes (or ERRORs); all writes are in bounds.
    unsafe {
        let p = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
        let a = p as *mut pg_sys::ArrayType;
        (*a).ndim = 1;
        (*a).dataoffset = 0;
        (*a).elemtype = elemtype;
        *(p.add(HEADER) as *mut i32) = n as i32;
        *(p.add(HEADER + 4) as *mut i32) = 1;
        let data = std::slice::from_raw_parts_mut(p.add(DATA_OFFSET) as *mut T, n);
        (pg_sys::Datum::from(p), data)
    }
}
