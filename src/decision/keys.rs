//! The decision point's first, synchronous stage: --allow-publish (CIDR list, publish only)
//! and the publish/play key files.

use super::{Action, Request};
use crate::ops::auth::{Auth, Denied};
use crate::ops::cidr::{any_contains, Cidr};

/// The key stage, borrowing the server's live settings.
#[derive(Clone, Copy)]
pub struct KeyCheck<'a> {
    allow_publish: &'a [Cidr],
    auth: &'a Auth,
}

impl<'a> KeyCheck<'a> {
    /// An empty `allow_publish` lets every address publish.
    pub fn new(allow_publish: &'a [Cidr], auth: &'a Auth) -> Self {
        KeyCheck { allow_publish, auth }
    }

    /// Publish: the address list first, then the publish keys. Play: the play keys.
    pub fn check(&self, request: &Request) -> Result<(), Denied> {
        let Request { app, stream, query, .. } = request;
        match request.action {
            Action::Publish => {
                let allow = self.allow_publish;
                if !allow.is_empty() && !any_contains(allow, request.remote.ip()) {
                    return Err(Denied::AddressNotAllowed);
                }
                self.auth.check_publish(app, stream, query)
            }
            Action::Play => self.auth.check_play(app, stream, query),
        }
    }
}
