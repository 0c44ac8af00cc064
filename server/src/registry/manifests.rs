//! What a tag is made of: its manifest (for `linux/amd64` when the tag is
//! an image index), its config's labels and `created`, and its layers'
//! compressed sizes. Cached in the store by digest, since a manifest never
//! changes under its digest: asking again for a known digest makes no
//! request.

use super::{RegistryClient, RegistryError};
use crate::store::Shared;
use dockyard_api::{Blob, ManifestFacts};

/// The platform an engine pulls from an image index.
pub const PLATFORM: &str = "linux/amd64";

/// Layers one manifest may list.
const MAX_LAYERS: usize = 1_000;

fn blob(v: &serde_json::Value) -> Result<Blob, RegistryError> {
    let digest = v["digest"].as_str().ok_or_else(|| RegistryError::Protocol("a blob without a digest".into()))?;
    let size = v["size"].as_u64().ok_or_else(|| RegistryError::Protocol("a blob without a size".into()))?;
    Ok(Blob { digest: digest.to_owned(), size })
}

fn is_index(m: &serde_json::Value) -> bool {
    let media = m["mediaType"].as_str().unwrap_or("");
    media.contains("manifest.list") || media.contains("image.index") || (media.is_empty() && m["manifests"].is_array())
}

/// The facts of the manifest `digest` of `repo` (from the store when known).
pub async fn facts(
    client: &RegistryClient,
    store: Option<&Shared>,
    repo: &str,
    digest: &str,
) -> Result<Option<ManifestFacts>, RegistryError> {
    if let Some(store) = store {
        let d = digest.to_owned();
        if let Ok(Some(f)) = store.call(move |s| s.load_manifest(&d)).await {
            return Ok(Some(f));
        }
    }
    let Some((top, mut manifest, mut bytes)) = client.manifest(repo, digest).await? else { return Ok(None) };
    let mut platform_manifest = None;
    if is_index(&manifest) {
        let (os, arch) = PLATFORM.split_once('/').unwrap_or(("linux", "amd64"));
        let chosen = manifest["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["platform"]["os"] == os && m["platform"]["architecture"] == arch)
            .and_then(|m| m["digest"].as_str())
            .ok_or_else(|| RegistryError::Protocol(format!("{repo}@{digest} has no {PLATFORM} image")))?
            .to_owned();
        let Some((d, m, b)) = client.manifest(repo, &chosen).await? else {
            return Err(RegistryError::Protocol(format!("{repo}@{digest} lists {chosen}, which is missing")));
        };
        platform_manifest = Some(d);
        manifest = m;
        bytes += b;
    }
    let config = blob(&manifest["config"])?;
    let layers: Vec<Blob> =
        manifest["layers"].as_array().into_iter().flatten().take(MAX_LAYERS + 1).map(blob).collect::<Result<_, _>>()?;
    if layers.len() > MAX_LAYERS {
        return Err(RegistryError::Protocol(format!("{repo}@{digest} has more than {MAX_LAYERS} layers")));
    }
    let cfg = client.blob_json(repo, &config.digest).await?;
    let labels = cfg["config"]["Labels"]
        .as_object()
        .map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    let facts = ManifestFacts {
        digest: top,
        platform_manifest,
        config,
        layers,
        manifest_bytes: bytes,
        labels,
        created: cfg["created"].as_str().map(str::to_owned),
    };
    if let Some(store) = store {
        let f = facts.clone();
        if let Err(e) = store.call(move |s| s.save_manifest(&f)).await {
            tracing::warn!("the manifest cache could not keep {digest}: {e}");
        }
    }
    Ok(Some(facts))
}

/// The digest `repo:tag` names now: from the store when it was read within
/// `max_age` seconds, else asked (`HEAD`) and stored.
pub async fn tag_digest(
    client: &RegistryClient,
    store: Option<&Shared>,
    registry: &str,
    repo: &str,
    tag: &str,
    max_age: i64,
) -> Result<Option<String>, RegistryError> {
    if let Some(store) = store {
        let (r, p, t) = (registry.to_owned(), repo.to_owned(), tag.to_owned());
        if let Ok(Some((d, at))) = store.call(move |s| s.load_digest(&r, &p, &t)).await
            && crate::store::now() - at <= max_age
        {
            return Ok(Some(d));
        }
    }
    let digest = client.manifest_digest(repo, tag).await?;
    if let (Some(store), Some(d)) = (store, &digest) {
        let (r, p, t, d) = (registry.to_owned(), repo.to_owned(), tag.to_owned(), d.clone());
        let _ = store.call(move |s| s.save_digest(&r, &p, &t, &d, crate::store::now())).await;
    }
    Ok(digest)
}

/// The facts of `repo:tag`.
pub async fn tag_facts(
    client: &RegistryClient,
    store: Option<&Shared>,
    registry: &str,
    repo: &str,
    tag: &str,
    max_age: i64,
) -> Result<Option<ManifestFacts>, RegistryError> {
    match tag_digest(client, store, registry, repo, tag, max_age).await? {
        Some(d) => facts(client, store, repo, &d).await,
        None => Ok(None),
    }
}
