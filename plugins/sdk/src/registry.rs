//! Name → constructor registry filled by each plugin library's register function (Bevy's
//! plugin idea: the runner never names a plugin, it only reads this registry).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::burn::tensor::Device;
use crate::weights::NamingScheme;
use crate::{Backbone, Head, PluginError};

/// What a constructor gets besides its options.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The training device (autodiff-enabled). Build parameters on it.
    pub device: Device,
    /// The run's seed; the device RNG is already seeded with it before the constructor runs.
    pub seed: u64,
    /// The architecture variant asked for (one of the registered variants; the first registered
    /// one when the experiment names none). Empty for plugins that registered no variants.
    pub variant: String,
}

/// Builds a backbone from a context and its options table.
pub type BackboneCtor =
    Box<dyn Fn(&BuildContext, &toml::Value) -> Result<Backbone, PluginError> + Send + Sync>;
/// Builds a head for `in_features` inputs from a context and its options table.
pub type HeadCtor =
    Box<dyn Fn(&BuildContext, usize, &toml::Value) -> Result<Head, PluginError> + Send + Sync>;
type ResolveFn = Box<dyn Fn(&toml::Value) -> Result<toml::Value, PluginError> + Send + Sync>;

/// One registered constructor.
pub struct PluginEntry<C> {
    /// Registered name, as experiment files spell it.
    pub name: String,
    /// One line saying what it is.
    pub description: String,
    /// The library it came from (`None` for constructors registered by the host itself).
    pub library: Option<PathBuf>,
    /// Architecture variants it builds (first = default); empty when it has none.
    pub variants: Vec<String>,
    /// Naming schemes of pretrained files it can load (besides its own names).
    pub schemes: Vec<NamingScheme>,
    /// The constructor.
    pub ctor: C,
    resolve: ResolveFn,
}

impl<C> PluginEntry<C> {
    /// Parses an options table against the plugin's options struct and returns it with every
    /// default filled in (what the run really used). Unknown keys are errors.
    pub fn resolve_options(&self, options: &toml::Value) -> Result<toml::Value, PluginError> {
        (self.resolve)(options)
    }

    /// Declares the naming schemes of the pretrained files this plugin loads (see
    /// [`NamingScheme`]); the loader tries each and reports which fitted.
    pub fn naming_schemes(&mut self, schemes: Vec<NamingScheme>) -> &mut Self {
        self.schemes = schemes;
        self
    }
}

/// Registered backbones and heads.
#[derive(Default)]
pub struct Registry {
    backbones: BTreeMap<String, PluginEntry<BackboneCtor>>,
    heads: BTreeMap<String, PluginEntry<HeadCtor>>,
    loading: Option<PathBuf>,
    conflicts: Vec<String>,
}

/// Deserialises a plugin's options table into its options struct. Give the struct
/// `#[serde(deny_unknown_fields)]` so a typo is an error, not a silent default.
pub fn parse_options<O: DeserializeOwned>(options: &toml::Value) -> Result<O, PluginError> {
    O::deserialize(options.clone()).map_err(|e| PluginError::options(e.message().to_owned()))
}

fn resolver<O: DeserializeOwned + Serialize>() -> ResolveFn {
    Box::new(|options| {
        let parsed: O = parse_options(options)?;
        toml::Value::try_from(&parsed)
            .map_err(|e| PluginError::Build(format!("options cannot be written back: {e}")))
    })
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a backbone constructor under `name`. `variants` lists the architecture variants
    /// it builds (the first is the default; empty for none). `O` is its options struct.
    pub fn backbone<O, F>(
        &mut self,
        name: &str,
        description: &str,
        variants: &[&str],
        build: F,
    ) -> &mut PluginEntry<BackboneCtor>
    where
        O: DeserializeOwned + Serialize + 'static,
        F: Fn(&BuildContext, O) -> Result<Backbone, PluginError> + Send + Sync + 'static,
    {
        let ctor: BackboneCtor = Box::new(move |ctx, options| build(ctx, parse_options(options)?));
        let mut entry = self.entry(name, description, ctor, resolver::<O>());
        entry.variants = variants.iter().map(|v| (*v).to_owned()).collect();
        if let Some(old) = self.backbones.insert(name.to_owned(), entry) {
            self.conflict("backbone", name, old.library.as_deref());
        }
        self.backbones.get_mut(name).expect("just inserted")
    }

    /// Registers a head constructor under `name`. `O` is its options struct.
    pub fn head<O, F>(
        &mut self,
        name: &str,
        description: &str,
        build: F,
    ) -> &mut PluginEntry<HeadCtor>
    where
        O: DeserializeOwned + Serialize + 'static,
        F: Fn(&BuildContext, usize, O) -> Result<Head, PluginError> + Send + Sync + 'static,
    {
        let ctor: HeadCtor = Box::new(move |ctx, in_features, options| {
            build(ctx, in_features, parse_options(options)?)
        });
        let entry = self.entry(name, description, ctor, resolver::<O>());
        if let Some(old) = self.heads.insert(name.to_owned(), entry) {
            self.conflict("head", name, old.library.as_deref());
        }
        self.heads.get_mut(name).expect("just inserted")
    }

    fn entry<C>(
        &self,
        name: &str,
        description: &str,
        ctor: C,
        resolve: ResolveFn,
    ) -> PluginEntry<C> {
        PluginEntry {
            name: name.to_owned(),
            description: description.to_owned(),
            library: self.loading.clone(),
            variants: Vec::new(),
            schemes: Vec::new(),
            ctor,
            resolve,
        }
    }

    fn conflict(&mut self, kind: &str, name: &str, previous: Option<&Path>) {
        let show =
            |p: Option<&Path>| p.map_or("the runner".to_owned(), |p| p.display().to_string());
        self.conflicts.push(format!(
            "{kind} `{name}` is registered by both {} and {}; the later one wins",
            show(previous),
            show(self.loading.as_deref())
        ));
    }

    /// Sets the library that subsequent registrations come from (done by the loader).
    pub fn set_loading(&mut self, library: Option<PathBuf>) {
        self.loading = library;
    }

    /// Names registered twice (by two libraries), one message each.
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    /// A backbone constructor by name.
    pub fn get_backbone(&self, name: &str) -> Option<&PluginEntry<BackboneCtor>> {
        self.backbones.get(name)
    }

    /// A head constructor by name.
    pub fn get_head(&self, name: &str) -> Option<&PluginEntry<HeadCtor>> {
        self.heads.get(name)
    }

    /// All backbones, sorted by name.
    pub fn backbones(&self) -> impl Iterator<Item = &PluginEntry<BackboneCtor>> {
        self.backbones.values()
    }

    /// All heads, sorted by name.
    pub fn heads(&self) -> impl Iterator<Item = &PluginEntry<HeadCtor>> {
        self.heads.values()
    }
}
