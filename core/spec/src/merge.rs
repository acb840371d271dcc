use toml::Spanned;
use toml::de::DeValue;

/// Merges `over` into `base`: tables merge key by key (recursively), anything else in `over`
/// replaces what `base` had. Spans stay with the values, so an error in a merged run points at
/// the line that set the value, whether in `[defaults]` or in the run.
///
/// One exception: a plugin table (`backbone`, `head`) whose `plugin` differs from the default's
/// replaces the default table whole, since another plugin's variant and options do not apply.
pub fn deep_merge<'i>(
    base: Spanned<DeValue<'i>>,
    over: Spanned<DeValue<'i>>,
) -> Spanned<DeValue<'i>> {
    let over_span = over.span();
    match (base.into_inner(), over.into_inner()) {
        (DeValue::Table(base), DeValue::Table(over)) if other_plugin(&base, &over) => {
            Spanned::new(over_span, DeValue::Table(over))
        }
        (DeValue::Table(mut base), DeValue::Table(over)) => {
            for (key, value) in over {
                let merged = match base.remove(&key) {
                    Some(old) => deep_merge(old, value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Spanned::new(over_span, DeValue::Table(base))
        }
        (_, over) => Spanned::new(over_span, over),
    }
}

fn other_plugin(base: &toml::de::DeTable<'_>, over: &toml::de::DeTable<'_>) -> bool {
    match (base.get("plugin"), over.get("plugin")) {
        (Some(a), Some(b)) => a.get_ref().as_str() != b.get_ref().as_str(),
        _ => false,
    }
}

/// Merges a `--set` override (`over`) over a run, as [`deep_merge`] does (the plugin exception
/// too), except that a table the run already has keeps its span and its keys' spans: an error
/// about a key the override does not set still points into the file.
pub fn overlay<'i>(base: Spanned<DeValue<'i>>, over: Spanned<DeValue<'i>>) -> Spanned<DeValue<'i>> {
    let (base_span, over_span) = (base.span(), over.span());
    match (base.into_inner(), over.into_inner()) {
        (DeValue::Table(base), DeValue::Table(over)) if other_plugin(&base, &over) => {
            Spanned::new(over_span, DeValue::Table(over))
        }
        (DeValue::Table(mut base), DeValue::Table(over)) => {
            for (key, value) in over {
                let (key, merged) = match base.remove_entry(&key) {
                    Some((old_key, old)) => (old_key, overlay(old, value)),
                    None => (key, value),
                };
                base.insert(key, merged);
            }
            Spanned::new(base_span, DeValue::Table(base))
        }
        (_, over) => Spanned::new(over_span, over),
    }
}
