//! The cost table the CLIs predict seconds from: `--cost-table FILE`, else the built-in table of the
//! plan's parameters, else none.

use anyhow::Context;
use cachemir_ir::cost::CostTable;
use cachemir_ir::CkksParamsLiteral;
use std::path::Path;

/// The table for `params`: read from `file` if given (an error if it cannot be read or is for other
/// parameters), else the built-in one, if any.
pub fn cost_table(
    file: Option<&Path>,
    params: &CkksParamsLiteral,
) -> anyhow::Result<Option<CostTable>> {
    let Some(file) = file else {
        return Ok(CostTable::builtin(params));
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the cost table {}", file.display()))?;
    let table = CostTable::from_json(&text, &file.display().to_string())?;
    if &table.params != params {
        anyhow::bail!(
            "cost table {}: measured for {}, not the plan's parameters",
            file.display(),
            table.params_name
        );
    }
    Ok(Some(table))
}

/// One line naming where a prediction comes from.
pub fn describe(table: Option<&CostTable>) -> String {
    match table {
        Some(t) => format!(
            "cost table of {} measured on {} with {} threads at {}",
            t.params_name, t.machine, t.threads, t.measured_at
        ),
        None => "no cost table for these parameters (measure one with `cachemir-run bench cost-model --params SET -o FILE` and pass --cost-table FILE)".into(),
    }
}
