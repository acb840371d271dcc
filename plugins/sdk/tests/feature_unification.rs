//! The SDK library must be the same build under every cargo command.
//!
//! Plugins link `librateme_sdk.so` by the symbols of one particular build of it. Cargo resolves
//! dependency features per command (`cargo test -p rateme`, `cargo build --workspace`, a plugin
//! alone, ...), and a crate in the SDK's dependency graph that gets other features under another
//! command changes the SDK's build: cargo then writes a second SDK (other symbol hashes) over the
//! same file and every plugin built before fails to load ("undefined symbol").
//!
//! The SDK's manifest therefore pins the union of the features its dependencies get anywhere in
//! the workspace (the "feature pins" in `plugins/sdk/Cargo.toml`). This test asks `cargo tree`
//! for the features of every crate the SDK depends on, under every cargo selection a user or a
//! script runs, and fails, naming the crates and the pin to add, when any selection differs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_owned()
}

/// `package version|features` of every crate the SDK depends on (directly or not, build and
/// proc-macro dependencies included), for one cargo selection; `None` when the selection does
/// not build the SDK.
fn sdk_closure(selection: &[String]) -> Option<BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .arg("tree")
        .args(selection)
        .args([
            "--prefix", "depth", "--format", "{p}|{f}", "--color", "never",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree {selection:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // The tree with repeated subtrees elided (`(*)`): children of a node come from its one full
    // occurrence. A node is a package with its resolved features.
    let mut children: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    for line in text.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        let depth: usize = line[..digits].parse().expect("depth");
        let node = line[digits..].trim_end_matches(" (*)").to_owned();
        stack.truncate(depth);
        if let Some(parent) = stack.last() {
            children
                .entry(parent.clone())
                .or_default()
                .insert(node.clone());
        }
        stack.push(node);
    }
    let mut todo: Vec<String> = children
        .keys()
        .chain(children.values().flatten())
        .filter(|n| n.starts_with("rateme-sdk "))
        .cloned()
        .collect();
    if todo.is_empty() {
        return None;
    }
    let mut seen = BTreeSet::new();
    while let Some(node) = todo.pop() {
        if seen.insert(node.clone()) {
            todo.extend(children.get(&node).into_iter().flatten().cloned());
        }
    }
    Some(seen)
}

/// Package names of the workspace members.
fn members() -> Vec<String> {
    let root = workspace_root();
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    members
        .iter()
        .map(|m| {
            let dir = root.join(m.as_str().unwrap());
            let pkg: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
                .unwrap()
                .parse()
                .unwrap();
            pkg["package"]["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn name_of(node: &str) -> &str {
    node.split('|').next().unwrap_or(node)
}

#[test]
fn sdk_dependencies_resolve_alike_under_every_selection() {
    // The reference: every target of the workspace (what scripts/test.sh builds), i.e. the most
    // features anything turns on. `-e no-dev` is a command without tests or benches
    // (`cargo build`, `cargo run`).
    let reference: Vec<String> = vec!["--workspace".into()];
    let mut selections: Vec<Vec<String>> =
        vec![vec!["--workspace".into(), "-e".into(), "no-dev".into()]];
    for member in members() {
        selections.push(vec!["-p".into(), member.clone()]);
        selections.push(vec!["-p".into(), member, "-e".into(), "no-dev".into()]);
    }
    let expected = sdk_closure(&reference).expect("the workspace builds the SDK");
    let results: Vec<(Vec<String>, Option<BTreeSet<String>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = selections
            .iter()
            .map(|sel| s.spawn(move || (sel.clone(), sdk_closure(sel))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut report = String::new();
    let mut pins: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0;
    for (sel, got) in &results {
        // A selection without the SDK (a member that does not depend on it) cannot rebuild it.
        let Some(got) = got else { continue };
        checked += 1;
        if got == &expected {
            continue;
        }
        report.push_str(&format!("\n`cargo tree {}`:\n", sel.join(" ")));
        for node in expected.difference(got) {
            report.push_str(&format!("  workspace: {node}\n"));
            pins.insert(node.clone());
        }
        for node in got.difference(&expected) {
            report.push_str(&format!("  this one:  {node}\n"));
        }
    }
    assert!(
        report.is_empty(),
        "the SDK's dependencies get other features under other cargo selections, so those \
         commands would rebuild librateme_sdk.so with other symbols and break every plugin.\n\
         Pin these (package, features) in plugins/sdk/Cargo.toml's feature pins:\n  {}\n{report}",
        pins.iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    // The check must look at something: the SDK's graph holds burn, and most members build it.
    assert!(expected.iter().any(|n| name_of(n).starts_with("burn ")));
    assert!(checked >= 10, "only {checked} selections build the SDK");
}
