//! Index build options (`WITH (m = …, ef_construction = …)`): their ranges and the checks
//! the adapter's `amoptions` and the sidecar apply, without Postgres.

/// Default `m` (pgvector's).
pub const DEFAULT_M: i32 = 16;
/// Default `ef_construction` (pgvector's).
pub const DEFAULT_EF_CONSTRUCTION: i32 = 64;
/// Range of `m`: neighbours per node (layer 0 keeps 2·m).
pub const M_RANGE: std::ops::RangeInclusive<i32> = 2..=100;
/// Range of `ef_construction`: candidate list while building.
pub const EF_CONSTRUCTION_RANGE: std::ops::RangeInclusive<i32> = 4..=1000;

/// Why a set of options was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    /// `m` outside [`M_RANGE`] (Postgres' reloption parser reports this first for SQL input).
    M(i32),
    /// `ef_construction` outside [`EF_CONSTRUCTION_RANGE`].
    EfConstruction(i32),
    /// 22023 `ef_construction must be greater than or equal to 2 * m`.
    EfBelowTwiceM,
}

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionsError::M(v) => write!(f, "value {v} out of bounds for option \"m\""),
            OptionsError::EfConstruction(v) => write!(f, "value {v} out of bounds for option \"ef_construction\""),
            OptionsError::EfBelowTwiceM => write!(f, "ef_construction must be greater than or equal to 2 * m"),
        }
    }
}

/// Checks one index's `(m, ef_construction)`: each in range, and ef_construction ≥ 2·m.
pub fn validate(m: i32, ef_construction: i32) -> Result<(), OptionsError> {
    if !M_RANGE.contains(&m) {
        return Err(OptionsError::M(m));
    }
    if !EF_CONSTRUCTION_RANGE.contains(&ef_construction) {
        return Err(OptionsError::EfConstruction(ef_construction));
    }
    if (ef_construction as i64) < 2 * m as i64 {
        return Err(OptionsError::EfBelowTwiceM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_cross_check() {
        assert_eq!(validate(DEFAULT_M, DEFAULT_EF_CONSTRUCTION), Ok(()));
        assert_eq!(validate(100, 1000), Ok(()));
        assert_eq!(validate(2, 4), Ok(()));
        assert_eq!(validate(1, 64), Err(OptionsError::M(1)));
        assert_eq!(validate(101, 1000), Err(OptionsError::M(101)));
        assert_eq!(validate(i32::MIN, 64), Err(OptionsError::M(i32::MIN)));
        assert_eq!(validate(16, 3), Err(OptionsError::EfConstruction(3)));
        assert_eq!(validate(16, 1001), Err(OptionsError::EfConstruction(1001)));
        assert_eq!(validate(100, 199), Err(OptionsError::EfBelowTwiceM));
    }
}
