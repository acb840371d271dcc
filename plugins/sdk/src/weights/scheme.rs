//! Naming schemes: how a reference implementation's tensor names and layouts become a plugin's,
//! declared as data (regex renames, then tensor transforms) so no plugin writes a loader.

use regex::Regex;

use crate::burn::tensor::TensorData;

use super::TensorInfo;
use super::file::FileTensor;
use super::resample::bicubic_grid;

/// What a transform does to the tensors it matches.
#[derive(Debug, Clone)]
enum TransformKind {
    /// Swaps the two axes of a 2-D tensor (a raw matrix parameter stored the other way round).
    Transpose,
    /// Gives the tensor another shape with the same number of elements.
    Reshape(Vec<usize>),
    /// Gives the tensor one axis holding all its elements (a `[C, 1, 1]` scale stored as `[C]`).
    Flatten,
    /// Resamples a square grid of tokens (axis -2, after `prefix` leading tokens that are kept)
    /// to the model's grid, bicubic as PyTorch's `F.interpolate(mode="bicubic",
    /// align_corners=False)` (position embeddings trained at another input size).
    ResizeGrid { prefix: usize },
    /// Cuts the tensor along axis 0 into equal parts, named by the templates (fused q/k/v).
    Split(Vec<String>),
    /// Concatenates, along axis 0, the matched tensor and its siblings named by the templates
    /// (the first template must name the matched tensor itself) into one named by the target.
    Join { parts: Vec<String>, into: String },
}

/// One renaming rule.
#[derive(Debug, Clone)]
enum Rule {
    /// Regex replacement.
    Replace(Regex, String),
    /// Numbers the distinct values of the pattern's two integer groups in numeric order and
    /// replaces the match with the template, `{n}` standing for the number.
    Number(Regex, String),
}

#[derive(Debug, Clone)]
struct Transform {
    pattern: Regex,
    kind: TransformKind,
}

/// A mapping from one reference's names (torchvision, timm, EfficientNet-PyTorch, OpenAI CLIP,
/// ...) to a plugin's own, in PyTorch's conventions: a norm layer's `weight`/`bias` and a
/// linear layer's `[out, in]` weight are turned into burn's by the loader itself (burn-store's
/// PyTorch adapter), so a scheme only renames, and transforms what no rename can express.
///
/// Rules apply in order, each to the result of the previous (like a sed script, `$1`-style
/// groups, first match of each rule); transforms then apply to the renamed tensors.
#[derive(Debug, Clone)]
pub struct NamingScheme {
    name: String,
    description: String,
    rules: Vec<Rule>,
    transforms: Vec<Transform>,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("naming scheme pattern `{pattern}`: {e}"))
}

impl NamingScheme {
    /// The scheme every plugin has: the plugin's own names (a file written by rateme or by
    /// another burn program with the same module).
    pub const OWN: &'static str = "rateme";

    /// A scheme with no rules yet. `name` is what runs and reports call it (`torchvision`),
    /// `description` says whose files use it.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            rules: Vec::new(),
            transforms: Vec::new(),
        }
    }

    /// The scheme's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whose files use it.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Adds a rename: every name matching `pattern` (a regex) is rewritten with `replacement`
    /// (`$1`, `${name}` groups). Panics on an invalid pattern (a plugin bug, caught when the
    /// plugin registers).
    pub fn rename(mut self, pattern: &str, replacement: &str) -> Self {
        self.rules
            .push(Rule::Replace(regex(pattern), replacement.to_owned()));
        self
    }

    /// Adds a numbering rule for nested indices that the plugin keeps flat: `pattern` has two
    /// integer groups (e.g. `^features\.(\d+)\.(\d+)\.`); the distinct pairs the file
    /// holds are numbered 0, 1, ... in numeric order, and each match is replaced by `template`
    /// with `{n}` standing for the pair's number (`blocks.{n}.`).
    pub fn number(mut self, pattern: &str, template: &str) -> Self {
        let re = regex(pattern);
        assert_eq!(
            re.captures_len(),
            3,
            "numbering pattern `{pattern}` needs exactly two groups"
        );
        self.rules.push(Rule::Number(re, template.to_owned()));
        self
    }

    /// A file's names under this scheme's rules (in order, each on the previous one's result).
    pub fn rename_all(&self, names: &[String]) -> Vec<String> {
        let mut names = names.to_vec();
        for rule in &self.rules {
            match rule {
                Rule::Replace(pattern, replacement) => {
                    for name in &mut names {
                        if pattern.is_match(name) {
                            *name = pattern.replace(name, replacement.as_str()).into_owned();
                        }
                    }
                }
                Rule::Number(pattern, template) => {
                    let key = |name: &str| -> Option<(u64, u64)> {
                        let c = pattern.captures(name)?;
                        Some((c[1].parse().ok()?, c[2].parse().ok()?))
                    };
                    let keys: std::collections::BTreeSet<(u64, u64)> =
                        names.iter().filter_map(|n| key(n)).collect();
                    let number: std::collections::BTreeMap<(u64, u64), usize> =
                        keys.into_iter().enumerate().map(|(i, k)| (k, i)).collect();
                    for name in &mut names {
                        if let Some(k) = key(name) {
                            let with_n = template.replace("{n}", &number[&k].to_string());
                            *name = pattern.replace(name, with_n.as_str()).into_owned();
                        }
                    }
                }
            }
        }
        names
    }

    /// Transposes the 2-D tensors whose renamed name matches `pattern`.
    pub fn transpose(mut self, pattern: &str) -> Self {
        self.transforms.push(Transform {
            pattern: regex(pattern),
            kind: TransformKind::Transpose,
        });
        self
    }

    /// Reshapes the tensors whose renamed name matches `pattern` to `shape`.
    pub fn reshape(mut self, pattern: &str, shape: &[usize]) -> Self {
        self.transforms.push(Transform {
            pattern: regex(pattern),
            kind: TransformKind::Reshape(shape.to_vec()),
        });
        self
    }

    /// Flattens the tensors whose renamed name matches `pattern` to one axis (torchvision's
    /// ConvNeXt layer scale `[C, 1, 1]` into a `[C]` parameter).
    pub fn flatten(mut self, pattern: &str) -> Self {
        self.transforms.push(Transform {
            pattern: regex(pattern),
            kind: TransformKind::Flatten,
        });
        self
    }

    /// Resamples the tensors whose renamed name matches `pattern` (position embeddings
    /// `[..., tokens, dim]` whose tokens are `prefix` class tokens, then a square grid in
    /// row-major order) when the model's tensor of that name has another square grid: the
    /// class tokens are kept, the grid is resized per channel by bicubic interpolation exactly
    /// as PyTorch's `F.interpolate(mode="bicubic", align_corners=False)` computes it (how
    /// RateMeAI moved ViT-B/16 from 224 to 456: a 14×14 grid to 28×28). Tensors whose shape
    /// equals the model's, or that do not fit this pattern, are left as they are.
    pub fn resize_grid(mut self, pattern: &str, prefix: usize) -> Self {
        self.transforms.push(Transform {
            pattern: regex(pattern),
            kind: TransformKind::ResizeGrid { prefix },
        });
        self
    }

    /// Splits each tensor whose renamed name matches `pattern` along axis 0 into
    /// `parts.len()` equal parts, named by expanding each template against the match (e.g.
    /// `(.*)\.in_proj_weight$` into `$1.q.weight`, `$1.k.weight`, `$1.v.weight`).
    pub fn split(mut self, pattern: &str, parts: &[&str]) -> Self {
        self.transforms.push(Transform {
            pattern: regex(pattern),
            kind: TransformKind::Split(parts.iter().map(|p| (*p).to_owned()).collect()),
        });
        self
    }

    /// Joins tensors along axis 0: for each tensor whose renamed name matches `pattern`, the
    /// templates in `parts` (expanded against the match; the first must give the matched name
    /// itself) name the tensors to concatenate, in order, into one named by `into`.
    pub fn join(mut self, pattern: &str, parts: &[&str], into: &str) -> Self {
        self.transforms.push(Transform {
            pattern: regex(pattern),
            kind: TransformKind::Join {
                parts: parts.iter().map(|p| (*p).to_owned()).collect(),
                into: into.to_owned(),
            },
        });
        self
    }

    /// Renames and transforms a file's tensors (grids are not resized: there is no model to
    /// resize them to). Errors name the tensor and the rule.
    pub fn apply(&self, tensors: &[FileTensor]) -> Result<Vec<FileTensor>, String> {
        self.apply_for(tensors, &[])
    }

    /// Renames and transforms a file's tensors for a model of `layout` (whose shapes the
    /// [`resize_grid`](Self::resize_grid) rules resize to). Errors name the tensor and the rule.
    pub fn apply_for<'a>(
        &self,
        tensors: impl IntoIterator<Item = &'a FileTensor>,
        layout: &[TensorInfo],
    ) -> Result<Vec<FileTensor>, String> {
        let tensors: Vec<&FileTensor> = tensors.into_iter().collect();
        let names: Vec<String> = tensors.iter().map(|t| t.name.clone()).collect();
        let mut out: Vec<FileTensor> = tensors
            .into_iter()
            .zip(self.rename_all(&names))
            .map(|(t, name)| FileTensor { name, ..t.clone() })
            .collect();
        for transform in &self.transforms {
            out = transform.run(out, layout)?;
        }
        Ok(out)
    }
}

impl Transform {
    fn run(
        &self,
        tensors: Vec<FileTensor>,
        layout: &[TensorInfo],
    ) -> Result<Vec<FileTensor>, String> {
        let rule = self.pattern.as_str();
        match &self.kind {
            TransformKind::Join { parts, into } => self.join(tensors, parts, into),
            kind => {
                let mut out = Vec::with_capacity(tensors.len());
                for t in tensors {
                    if !self.pattern.is_match(&t.name) || !t.stored_dtype.is_float() {
                        out.push(t);
                        continue;
                    }
                    match kind {
                        TransformKind::Transpose => {
                            if t.shape.len() != 2 {
                                return Err(format!(
                                    "`{}` {:?}: rule `{rule}` transposes 2-D tensors only",
                                    t.name, t.shape
                                ));
                            }
                            let (rows, cols) = (t.shape[0], t.shape[1]);
                            let values = t.data.try_to_vec::<f32>().expect("f32");
                            let mut swapped = vec![0.0f32; values.len()];
                            for (i, row) in values.chunks(cols.max(1)).enumerate() {
                                for (j, v) in row.iter().enumerate() {
                                    swapped[j * rows + i] = *v;
                                }
                            }
                            let data = TensorData::new(swapped, vec![cols, rows]);
                            out.push(with_data(&t, t.name.clone(), data));
                        }
                        TransformKind::Reshape(shape) => {
                            let n: usize = shape.iter().product();
                            if n != t.shape.iter().product::<usize>() {
                                return Err(format!(
                                    "`{}` {:?} cannot be reshaped to {shape:?} (rule `{rule}`)",
                                    t.name, t.shape
                                ));
                            }
                            let data = TensorData::new(
                                t.data.try_to_vec::<f32>().expect("f32"),
                                shape.clone(),
                            );
                            out.push(with_data(&t, t.name.clone(), data));
                        }
                        TransformKind::Flatten => {
                            let n = t.shape.iter().product::<usize>();
                            let data =
                                TensorData::new(t.data.try_to_vec::<f32>().expect("f32"), vec![n]);
                            out.push(with_data(&t, t.name.clone(), data));
                        }
                        TransformKind::ResizeGrid { prefix } => {
                            let target = layout.iter().find(|l| l.name == t.name);
                            match target.and_then(|l| resized_grid(&t, &l.shape, *prefix)) {
                                Some(data) => out.push(with_data(&t, t.name.clone(), data)),
                                None => out.push(t),
                            }
                        }
                        TransformKind::Split(names) => {
                            let rows = t.shape.first().copied().unwrap_or(0);
                            if names.is_empty() || rows % names.len() != 0 {
                                return Err(format!(
                                    "`{}` {:?}: axis 0 does not split into {} equal parts (rule `{rule}`)",
                                    t.name,
                                    t.shape,
                                    names.len()
                                ));
                            }
                            let chunk = rows / names.len();
                            let row = t.shape[1..].iter().product::<usize>();
                            let values = t.data.try_to_vec::<f32>().expect("f32");
                            for (i, template) in names.iter().enumerate() {
                                let mut shape = t.shape.clone();
                                shape[0] = chunk;
                                let part = values[i * chunk * row..(i + 1) * chunk * row].to_vec();
                                let name = self.expand(&t.name, template);
                                out.push(with_data(&t, name, TensorData::new(part, shape)));
                            }
                        }
                        TransformKind::Join { .. } => unreachable!("handled above"),
                    }
                }
                Ok(out)
            }
        }
    }

    fn expand(&self, name: &str, template: &str) -> String {
        self.pattern.replace(name, template).into_owned()
    }

    fn join(
        &self,
        tensors: Vec<FileTensor>,
        parts: &[String],
        into: &str,
    ) -> Result<Vec<FileTensor>, String> {
        let rule = self.pattern.as_str();
        let mut taken = std::collections::BTreeSet::new();
        let mut joined = Vec::new();
        for t in &tensors {
            if !self.pattern.is_match(&t.name) || taken.contains(&t.name) {
                continue;
            }
            let names: Vec<String> = parts.iter().map(|p| self.expand(&t.name, p)).collect();
            let mut values = Vec::new();
            let mut rows = 0;
            for name in &names {
                let part = tensors.iter().find(|p| &p.name == name).ok_or_else(|| {
                    format!(
                        "`{}`: rule `{rule}` joins it with `{name}`, which the file lacks",
                        t.name
                    )
                })?;
                if part.shape[1..] != t.shape[1..] {
                    return Err(format!(
                        "`{name}` {:?} cannot be joined with `{}` {:?} (rule `{rule}`)",
                        part.shape, t.name, t.shape
                    ));
                }
                rows += part.shape[0];
                values.extend(part.data.try_to_vec::<f32>().expect("f32"));
                taken.insert(name.clone());
            }
            let mut shape = t.shape.clone();
            shape[0] = rows;
            joined.push(with_data(
                t,
                self.expand(&t.name, into),
                TensorData::new(values, shape),
            ));
        }
        let mut out: Vec<FileTensor> = tensors
            .into_iter()
            .filter(|t| !taken.contains(&t.name))
            .collect();
        out.extend(joined);
        Ok(out)
    }
}

/// The square side of `n`, if it has one.
fn square_side(n: usize) -> Option<usize> {
    let side = (n as f64).sqrt().round() as usize;
    (side * side == n && side > 0).then_some(side)
}

/// `t` (`[..., tokens, dim]`, `prefix` leading tokens then a square grid) resampled to the
/// grid of `target`, or `None` when the shapes already agree or are not such grids.
fn resized_grid(t: &FileTensor, target: &[usize], prefix: usize) -> Option<TensorData> {
    let rank = t.shape.len();
    if rank < 2 || target.len() != rank || target == t.shape.as_slice() {
        return None;
    }
    let same_else = (0..rank)
        .filter(|&a| a != rank - 2)
        .all(|a| t.shape[a] == target[a]);
    let (from, to) = (t.shape[rank - 2], target[rank - 2]);
    if !same_else || from <= prefix || to <= prefix {
        return None;
    }
    let (side_in, side_out) = (square_side(from - prefix)?, square_side(to - prefix)?);
    let dim = t.shape[rank - 1];
    let values = t.data.try_to_vec::<f32>().expect("f32");
    let mut out = Vec::with_capacity(values.len() / from * to);
    for block in values.chunks(from * dim) {
        out.extend_from_slice(&block[..prefix * dim]);
        out.extend(bicubic_grid(&block[prefix * dim..], side_in, side_out, dim));
    }
    Some(TensorData::new(out, target.to_vec()))
}

fn with_data(from: &FileTensor, name: String, data: TensorData) -> FileTensor {
    FileTensor {
        name,
        source: from.source.clone(),
        stored_dtype: from.stored_dtype,
        shape: data.shape().to_vec(),
        data,
    }
}
