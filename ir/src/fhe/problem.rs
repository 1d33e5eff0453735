//! What the verifier found wrong at one op (wrapped with the op's name in [`crate::IrError::Verify`]).

use super::module::ValueId;
use super::types::LayoutError;
use super::units::{Level, LogScale, RotStep, SlotCount};

/// A typing or well-formedness problem of one op. Values are printed as `%n`, as in the text form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// An operand id names no value.
    #[error("%{} is not defined", .value.index())]
    UndefinedValue {
        /// The operand.
        value: ValueId,
    },
    /// An operand is defined later in the program.
    #[error("%{} is used before its definition", .value.index())]
    UseBeforeDef {
        /// The operand.
        value: ValueId,
    },
    /// An operand's defining op was removed.
    #[error("%{} is defined by a removed op", .value.index())]
    UseOfRemoved {
        /// The operand.
        value: ValueId,
    },
    /// An operand has the wrong kind of type.
    #[error("%{} is a {found}, expected a {expected}", .value.index())]
    WrongKind {
        /// The operand.
        value: ValueId,
        /// Expected kind.
        expected: &'static str,
        /// Found kind.
        found: &'static str,
    },
    /// Two operands at different levels.
    #[error("level mismatch: %{} at {lhs_level}, %{} at {rhs_level}", .lhs.index(), .rhs.index())]
    LevelMismatch {
        /// First operand.
        lhs: ValueId,
        /// Its level.
        lhs_level: Level,
        /// Second operand.
        rhs: ValueId,
        /// Its level.
        rhs_level: Level,
    },
    /// Two operands at different scales.
    #[error("scale mismatch: %{} at 2^{lhs_scale}, %{} at 2^{rhs_scale}", .lhs.index(), .rhs.index())]
    ScaleMismatch {
        /// First operand.
        lhs: ValueId,
        /// Its log2 scale.
        lhs_scale: LogScale,
        /// Second operand.
        rhs: ValueId,
        /// Its log2 scale.
        rhs_scale: LogScale,
    },
    /// Two operands with different slot counts.
    #[error("slot count mismatch: %{} has {lhs_slots}, %{} has {rhs_slots}", .lhs.index(), .rhs.index())]
    SlotMismatch {
        /// First operand.
        lhs: ValueId,
        /// Its slots.
        lhs_slots: SlotCount,
        /// Second operand.
        rhs: ValueId,
        /// Its slots.
        rhs_slots: SlotCount,
    },
    /// An operand's level is too low for the op.
    #[error("%{} at level {level}, needs at least {needed}", .value.index())]
    LevelTooLow {
        /// The operand.
        value: ValueId,
        /// Its level.
        level: Level,
        /// Minimum level.
        needed: u32,
    },
    /// A level above the top of the modulus chain.
    #[error("level {level} above the top level {max}")]
    LevelTooHigh {
        /// The level.
        level: Level,
        /// Top level.
        max: Level,
    },
    /// A ciphertext operand of the wrong degree (relinearization missing or doubled).
    #[error("%{} has degree {degree}, expected {expected}", .value.index())]
    Degree {
        /// The operand.
        value: ValueId,
        /// Its degree.
        degree: u8,
        /// Expected degree.
        expected: u8,
    },
    /// A rotation whose key the module does not declare.
    #[error("missing rotation key for step {step}")]
    MissingRotationKey {
        /// Normalized left rotation.
        step: RotStep,
    },
    /// A conjugation without the conjugation key.
    #[error("missing conjugation key")]
    MissingConjugationKey,
    /// A bootstrap without bootstrapping keys.
    #[error("missing bootstrapping keys")]
    MissingBootstrapKey,
    /// A bootstrap boost above [`super::op::MAX_BOOST`].
    #[error("bootstrap boost {boost} exceeds {}", super::op::MAX_BOOST)]
    BoostTooLarge {
        /// The boost.
        boost: u32,
    },
    /// A weight name the module does not declare.
    #[error("unknown weight \"{name}\"")]
    UnknownWeight {
        /// Weight name.
        name: String,
    },
    /// A weight row out of range.
    #[error("row {index} of weight \"{name}\" with {rows} rows")]
    WeightRow {
        /// Weight name.
        name: String,
        /// Row asked for.
        index: u32,
        /// Rows available.
        rows: u32,
    },
    /// A weight whose rows do not have one entry per slot.
    #[error("weight \"{name}\" has rows of {cols} entries, the value has {slots} slots")]
    WeightWidth {
        /// Weight name.
        name: String,
        /// Entries per row.
        cols: u32,
        /// Slot count.
        slots: SlotCount,
    },
    /// A KV-cache name the module does not declare.
    #[error("unknown KV cache \"{name}\"")]
    UnknownKvCache {
        /// Cache name.
        name: String,
    },
    /// A value appended to a KV cache whose chunk type differs.
    #[error("%{} does not have the chunk type of KV cache \"{name}\"", .value.index())]
    KvType {
        /// Cache name.
        name: String,
        /// The appended value.
        value: ValueId,
    },
    /// An input or output with an opaque layout (the client cannot encode or decode it).
    #[error("an input or output needs a client layout, not opaque")]
    OpaqueInterface,
    /// A type whose layout does not fit its slots.
    #[error("%{}: {error}", .value.index())]
    Layout {
        /// The value.
        value: ValueId,
        /// Why.
        error: LayoutError,
    },
    /// A slot count that is not a power of two or exceeds N/2.
    #[error("%{} has {slots} slots; a power of two at most {max} is needed", .value.index())]
    Slots {
        /// The value.
        value: ValueId,
        /// Its slots.
        slots: SlotCount,
        /// N/2.
        max: u64,
    },
    /// A declared result type that differs from the typing rule.
    #[error("%{} declared {declared}, the typing rule gives {expected}", .value.index())]
    ResultType {
        /// The result.
        value: ValueId,
        /// Declared type (text form).
        declared: String,
        /// Type from the rule (text form).
        expected: String,
    },
    /// A result count that differs from the op's.
    #[error("{found} results, the op defines {expected}")]
    ResultCount {
        /// Results the op defines.
        expected: usize,
        /// Results present.
        found: usize,
    },
    /// A name used twice where names are unique.
    #[error("duplicate {kind} \"{name}\"")]
    Duplicate {
        /// What kind of name (input, output, KV append).
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A non-finite number.
    #[error("non-finite {what}: {value}")]
    NonFinite {
        /// Which number.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A builder asked for the type of an op whose result types must be declared.
    #[error("result type must be declared")]
    NeedsDeclaredType,
    /// Any other malformed op or declaration.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
}
