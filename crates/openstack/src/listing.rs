//! The one pagination helper: each service's paging rules, in one place.

use osauth::ApiVersion;
use serde_json::Value;
use syncer_plugin_sdk::{ListRequest, Page, PluginError, Resource};

use crate::client::{Client, Cost, Service};
use crate::cloud_error;

/// How a service says there is another page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// Nova, Cinder, Neutron: `<items>_links` holds a `rel: next` link. Nova and Cinder
    /// add it to every full page, so their listings end on an empty page; Neutron only
    /// when more exist.
    Links,
    /// Glance: a top-level `next`.
    Glance,
    /// Keystone: `links.next` is not null.
    Keystone,
    /// Nova server groups: `limit`/`offset`, no links; a short page is the last.
    Offset,
    /// Heat stacks: `limit`/`marker`, no links; a short page is the last.
    ShortPage,
}

/// One list function.
#[derive(Debug)]
pub struct ListSpec {
    /// Function name in the manifest.
    pub function: &'static str,
    /// The service.
    pub service: Service,
    /// Path below the service's endpoint.
    pub path: &'static [&'static str],
    /// Key of the item array in the body.
    pub items: &'static str,
    /// How pages follow each other.
    pub paging: Paging,
    /// Query parameter and value asking for every project's resources.
    pub all_projects: Option<(&'static str, &'static str)>,
    /// Each item is wrapped once more under this key (Nova keypairs).
    pub unwrap: Option<&'static str>,
    /// The field that identifies an item (and is the marker).
    pub id_field: &'static str,
    /// The display-name field.
    pub name_field: &'static str,
    /// Fields that may hold the owning project, first present wins.
    pub project_fields: &'static [&'static str],
    /// `("compute", "2.100")`: the newest microversion the plugin understands.
    pub microversion: Option<(&'static str, &'static str)>,
}

/// One get function.
#[derive(Debug)]
pub struct GetSpec {
    /// Function name in the manifest.
    pub function: &'static str,
    /// The list function whose items it returns (service, fields, microversion).
    pub list: &'static ListSpec,
    /// Path below the service's endpoint; the id is appended.
    pub path: &'static [&'static str],
    /// Key of the object in the body; `None` when the body is the object (Glance).
    pub wrapper: Option<&'static str>,
}

/// The envelope of one API object.
fn resource(spec: &ListSpec, item: Value) -> Result<Resource, PluginError> {
    let text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let reference_id = text(&item[spec.id_field]).ok_or_else(|| {
        cloud_error(format!(
            "{}: an item has no `{}`",
            spec.function, spec.id_field
        ))
    })?;
    Ok(Resource {
        reference_id,
        name: text(&item[spec.name_field]),
        project_id: spec.project_fields.iter().find_map(|f| text(&item[*f])),
        cloud_meta: item,
    })
}

async fn version(
    client: &Client,
    spec: &ListSpec,
) -> Result<Option<(&'static str, ApiVersion)>, PluginError> {
    Ok(match spec.microversion {
        Some((name, newest)) => client
            .microversion(spec.service, newest)
            .await?
            .map(|v| (name, v)),
        None => None,
    })
}

/// One page of `spec`'s listing.
pub async fn list_page(
    client: &Client,
    spec: &ListSpec,
    request: &ListRequest,
) -> Result<Page, PluginError> {
    let mut query = vec![("limit".to_string(), request.page_size.to_string())];
    let all_projects = request
        .options
        .get("all_projects")
        .and_then(Value::as_bool)
        .unwrap_or(client.settings().all_projects);
    if let (true, Some((key, value))) = (all_projects, spec.all_projects) {
        query.push((key.into(), value.into()));
    }
    if let Some(cursor) = &request.cursor {
        let key = if spec.paging == Paging::Offset {
            "offset"
        } else {
            "marker"
        };
        query.push((key.into(), cursor.clone()));
    }
    let version = version(client, spec).await?;
    let mut cost = Cost::default();
    let mut body = client
        .get(spec.service, spec.path, &query, version, &mut cost)
        .await?
        .ok_or_else(|| {
            cloud_error(format!(
                "{}: the service answered 404 for its listing",
                spec.function
            ))
        })?;
    // Taken, not cloned: a page of a thousand servers is megabytes of values.
    let items = match body.get_mut(spec.items).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => {
            return Err(cloud_error(format!(
                "{}: the body has no `{}` array",
                spec.function, spec.items
            )))
        }
    };
    // The next page as the service points to it; `Some(None)` when it points to one
    // without naming a marker.
    let next_link: Option<Option<String>> = match spec.paging {
        Paging::Links => body[format!("{}_links", spec.items)]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["rel"] == "next"))
            .map(|l| l["href"].as_str().and_then(marker_of)),
        Paging::Glance => body["next"].as_str().map(marker_of),
        Paging::Keystone => body["links"]["next"].as_str().map(marker_of),
        Paging::Offset | Paging::ShortPage => {
            (items.len() >= request.page_size as usize).then_some(None)
        }
    };
    let resources = items
        .into_iter()
        .map(|mut item| match spec.unwrap {
            Some(key) => match item.get_mut(key) {
                Some(inner) => inner.take(),
                None => item,
            },
            None => item,
        })
        .map(|item| resource(spec, item))
        .collect::<Result<Vec<_>, _>>()?;
    // An empty page ends the listing whatever the links say (the full-page rule of
    // Nova, Cinder and Glance ends that way). The host fails a listing whose cursor
    // does not advance, so a service that repeats its marker cannot loop it.
    let next = match (next_link, resources.last()) {
        (None, _) | (Some(_), None) => None,
        (Some(_), Some(_)) if spec.paging == Paging::Offset => {
            let offset: usize = request
                .cursor
                .as_deref()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            Some((offset + resources.len()).to_string())
        }
        (Some(Some(marker)), Some(_)) => Some(marker),
        (Some(None), Some(last)) => Some(last.reference_id.clone()),
    };
    Ok(Page {
        items: resources,
        next,
        api_calls: cost.api_calls,
        retries: cost.retries,
        throttled: cost.throttled,
        api_version: version.map(|(service, v)| format!("{service} {v}")),
    })
}

/// The `marker` query parameter of a next link, percent-decoded.
fn marker_of(href: &str) -> Option<String> {
    let query = href.split_once('?')?.1;
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("marker="))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One object by id; `None` when the service says 404.
pub async fn get_one(
    client: &Client,
    spec: &GetSpec,
    id: &str,
) -> Result<Option<Resource>, PluginError> {
    let mut path: Vec<&str> = spec.path.to_vec();
    path.push(id);
    let version = version(client, spec.list).await?;
    let mut cost = Cost::default();
    let Some(mut body) = client
        .get(spec.list.service, &path, &[], version, &mut cost)
        .await?
    else {
        return Ok(None);
    };
    let item = match spec.wrapper {
        Some(key) => body
            .get_mut(key)
            .map(Value::take)
            .ok_or_else(|| cloud_error(format!("{}: the body has no `{key}`", spec.function)))?,
        None => body,
    };
    resource(spec.list, item).map(Some)
}

#[cfg(test)]
mod tests {
    use super::marker_of;

    #[test]
    fn markers_come_from_next_links() {
        assert_eq!(
            marker_of("http://h/v2.1/servers/detail?limit=5&marker=ab-12").as_deref(),
            Some("ab-12")
        );
        assert_eq!(
            marker_of("/v2/images?limit=5&marker=x%20y%2Fz").as_deref(),
            Some("x y/z")
        );
        assert_eq!(marker_of("/v2/images?marker=%2F").as_deref(), Some("/"));
        assert_eq!(marker_of("/v2/images?limit=5"), None);
        assert_eq!(marker_of("/v2/images"), None);
    }
}
