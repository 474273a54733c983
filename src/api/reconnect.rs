//! POST /api/connections/{id}/reconnect: asks a publishing connection to reconnect (Enhanced
//! RTMP v2 `NetConnection.Connect.ReconnectRequest`). Optional `tcUrl` (query parameter,
//! percent-encoded, or a JSON body `{"tcUrl": "...", "description": "..."}`) sends the
//! client to another server. 202 when asked; 404 for no such connection; 409 for a
//! connection that publishes nothing; 400 for a tcUrl that is not `rtmp://` or `rtmps://`.

use super::{error, json_response};
use crate::client::url::RtmpUrl;
use crate::http::percent::query_value;
use crate::http::{Request, Response};
use crate::server::context::ServerContext;
use crate::server::reconnect::{ReconnectOrder, ReconnectRefusal, CAUSE_API};
use log::info;
use serde_json::{json, Value};

/// The description sent when the request names none.
const DEFAULT_DESCRIPTION: &str = "The server asks this client to reconnect.";
/// Longest description accepted (bytes).
const MAX_DESCRIPTION: usize = 512;

pub(super) fn reconnect(ctx: &ServerContext, id: &str, request: &Request) -> Response {
    let Ok(conn_id) = id.parse::<u64>() else {
        return error(404, "no such connection");
    };
    let (tc_url, description) = match parameters(request) {
        Ok(found) => found,
        Err(message) => return error(400, message),
    };
    let tc_url = match tc_url.map(|url| RtmpUrl::parse_tc_url(&url)).transpose() {
        Ok(url) => url.map(|url| url.tc_url),
        Err(e) => return error(400, &format!("tcUrl must be an rtmp:// or rtmps:// URL: {e}")),
    };
    let order = ReconnectOrder {
        tc_url: tc_url.clone(),
        description: description.unwrap_or_else(|| DEFAULT_DESCRIPTION.to_owned()),
        cause: CAUSE_API,
    };
    match ctx.request_reconnect(conn_id, order) {
        Ok(()) => {
            info!(
                "reconnect requested by API conn_id={conn_id} redirected={}",
                tc_url.is_some()
            );
            json_response(202, &json!({ "conn_id": conn_id, "tcUrl": tc_url }))
        }
        Err(ReconnectRefusal::NoSuchConnection) => error(404, "no such connection"),
        Err(ReconnectRefusal::NotPublishing) => error(409, "the connection is not publishing"),
    }
}

/// `tcUrl` and `description` from the query, else from a JSON body (both optional).
fn parameters(request: &Request) -> Result<(Option<String>, Option<String>), &'static str> {
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let mut tc_url = query_value(query, "tcUrl")?;
    let mut description = query_value(query, "description")?;
    if !request.body.iter().all(u8::is_ascii_whitespace) {
        let body: Value = serde_json::from_slice(&request.body).map_err(|_| "the body must be a JSON object")?;
        let text = |key: &str| match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err("tcUrl and description must be strings"),
        };
        if !body.is_object() {
            return Err("the body must be a JSON object");
        }
        tc_url = tc_url.or(text("tcUrl")?);
        description = description.or(text("description")?);
    }
    if description.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
        return Err("description too long");
    }
    Ok((tc_url, description))
}
