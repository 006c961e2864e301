//! Helpers for raw V1 functions (`PG_FUNCTION_INFO_V1` and argument access).
use pgrx::pg_sys;

/// Declares `pg_finfo_vecmap_<name>` so Postgres calls `vecmap_<name>` with the V1 convention.
/// Every C entry point is exported with the `vecmap_` prefix: Postgres loads extension
/// libraries RTLD_GLOBAL, and pgvector's vector.so calls e.g. `l2_normalize` by symbol, so
/// unprefixed names would interpose on pgvector's own functions.
macro_rules! pg_function_info_v1 {
    ($($name:ident),* $(,)?) => {
        ::paste::paste! {
            $(
                #[no_mangle]
                #[doc(hidden)]
                pub extern "C" fn [<pg_finfo_vecmap_ $name>]() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
                    const V1: ::pgrx::pg_sys::Pg_finfo_record = ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
                    &V1
                }
            )*
        }
    };
}

/// Defines the V1 C function `vecmap_<name>` of two non-null (STRICT) arguments of SQL type `$ty`,
/// read by `$read` (`unsafe fn(FunctionCallInfo) -> (T, T)`) into `$a`, `$b`; `$body` is the
/// returned Datum. The distance and comparison operators of every vector type are built on it.
macro_rules! binary_fn {
    ($ty:literal, $read:path, $name:ident, $doc:literal, |$a:ident, $b:ident| $body:expr) => {
        #[doc = $doc]
        ///
        /// # Safety
        #[doc = concat!("Called by the function manager with two non-null `", $ty, "` arguments (STRICT).")]
        #[export_name = concat!("vecmap_", stringify!($name))]
        #[::pgrx::pg_guard]
        pub unsafe extern "C-unwind" fn $name(fcinfo: ::pgrx::pg_sys::FunctionCallInfo) -> ::pgrx::pg_sys::Datum {
            // SAFETY: the SQL declaration is STRICT with two arguments of this type.
            let ($a, $b) = unsafe { $read(fcinfo) };
            $body
        }
    };
}

/// Argument `n` as a raw Datum.
#[inline]
pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> pg_sys::Datum {
    // SAFETY: caller passes a valid fcinfo with at least n+1 args (declared STRICT in SQL).
    unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize)[n].value }
}

/// True when argument `n` is NULL (for non-STRICT functions).
#[inline]
pub unsafe fn arg_is_null(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> bool {
    // SAFETY: caller passes a valid fcinfo with more than n arguments.
    unsafe { (*fcinfo).args.as_slice((*fcinfo).nargs as usize)[n].isnull }
}

#[inline]
pub unsafe fn return_null(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: fcinfo valid for the duration of the call.
    unsafe { (*fcinfo).isnull = true };
    pg_sys::Datum::from(0usize)
}
