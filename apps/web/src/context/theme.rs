//! Themes: Tera templates and static assets. A theme overrides any file of `default` and falls
//! back to it for the rest. Assets are served under content-hashed names with long cache lives.

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A static file held in memory.
#[derive(Debug)]
pub struct Asset {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Every theme, loaded and checked at start-up.
pub struct Themes {
    tera: HashMap<String, tera::Tera>,
    assets: HashMap<String, Asset>,
    css_urls: HashMap<String, String>,
}

fn files_under(root: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    if !root.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let name = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                out.insert(name, path);
            }
        }
    }
    Ok(out)
}

fn hashed_name(rel: &str, bytes: &[u8]) -> String {
    let hash = &hex::encode(Sha256::digest(bytes))[..12];
    match rel.rsplit_once('.') {
        Some((stem, ext)) if !stem.ends_with('/') => format!("{stem}.{hash}.{ext}"),
        _ => format!("{rel}.{hash}"),
    }
}

impl Themes {
    /// Loads every folder under `dir`; `default` must exist.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let default = dir.join("default");
        anyhow::ensure!(default.is_dir(), "no default theme at {}", default.display());
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        let default_templates = files_under(&default.join("templates"))?;
        let default_static = files_under(&default.join("static"))?;
        let mut themes = Themes { tera: HashMap::new(), assets: HashMap::new(), css_urls: HashMap::new() };
        for name in names {
            let root = dir.join(&name);
            let mut templates = default_templates.clone();
            templates.extend(files_under(&root.join("templates"))?);
            let mut sources = Vec::new();
            for (tpl, path) in &templates {
                let src = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                sources.push((tpl.clone(), src));
            }
            let mut tera = tera::Tera::default();
            tera.add_raw_templates(sources.iter().map(|(n, s)| (n.as_str(), s.as_str())))
                .map_err(|e| anyhow::anyhow!("theme {name}: {e}"))?;
            let mut statics = default_static.clone();
            statics.extend(files_under(&root.join("static"))?);
            for (rel, path) in statics {
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let url = format!("/assets/{name}/{}", hashed_name(&rel, &bytes));
                if rel == "css/main.css" {
                    themes.css_urls.insert(name.clone(), url.clone());
                }
                themes.css_urls.insert(format!("{name}/{rel}"), url.clone());
                let content_type = mime_guess::from_path(&path).first_or_octet_stream().to_string();
                themes.assets.insert(url, Asset { bytes, content_type });
            }
            anyhow::ensure!(themes.css_urls.contains_key(&name), "theme {name} has no static/css/main.css");
            themes.tera.insert(name, tera);
        }
        Ok(themes)
    }

    /// The themes' names.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tera.keys().cloned().collect();
        names.sort();
        names
    }

    /// Renders `template` of `theme` (or of `default` if the theme is unknown).
    pub fn render(&self, theme: &str, template: &str, ctx: &tera::Context) -> anyhow::Result<String> {
        let tera = self.tera.get(theme).or_else(|| self.tera.get("default")).context("no default theme")?;
        tera.render(template, ctx).map_err(|e| anyhow::anyhow!("rendering {template} ({theme}): {e:?}"))
    }

    /// The hashed URL of a theme's main stylesheet.
    pub fn css_url(&self, theme: &str) -> &str {
        self.css_urls.get(theme).or_else(|| self.css_urls.get("default")).map_or("", String::as_str)
    }

    /// The hashed URL of one of a theme's static files (`js/learn.js`), falling back to `default`.
    pub fn asset_url(&self, theme: &str, rel: &str) -> &str {
        self.css_urls
            .get(&format!("{theme}/{rel}"))
            .or_else(|| self.css_urls.get(&format!("default/{rel}")))
            .map_or("", String::as_str)
    }

    /// An asset by its hashed URL path.
    pub fn asset(&self, path: &str) -> Option<&Asset> {
        self.assets.get(path)
    }
}
