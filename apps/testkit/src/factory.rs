//! Factories for test set-up: a member of a trust, signed in or not; a course with sessions,
//! published or not. Set-up only: what a test asserts still goes through the pages.
//!
//! ```ignore
//! let (mut ann, ann_id) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
//! let fire = app.course("northmoor", "nm-fire", "Fire safety").page("Exits", "Know them").published().create().await;
//! ```

use crate::{TestApp, Visitor};
use trellis_db::catalogue::{CourseInput, ObjectInput};
use trellis_domain::identity::Role;
use trellis_domain::{CourseId, PersonId};

/// The password every factory-made person has.
pub const PASSWORD: &str = "violet tractor harbour";

/// A member of a trust, made by [`TestApp::person`].
#[must_use = "a factory makes nothing until `create` or `signed_in`"]
pub struct PersonFactory<'a> {
    app: &'a TestApp,
    slug: String,
    email: String,
    roles: Vec<Role>,
    record: Option<(String, String)>,
}

impl PersonFactory<'_> {
    /// Their roles (a learner's, if not given).
    pub fn roles(mut self, roles: &[Role]) -> Self {
        self.roles = roles.to_vec();
        self
    }

    /// Their HR record: staff group and department.
    pub fn staff(mut self, group: &str, department: &str) -> Self {
        self.record = Some((group.into(), department.into()));
        self
    }

    /// Makes them: a verified account with [`PASSWORD`] and an approved membership.
    pub async fn create(self) -> PersonId {
        let roles = if self.roles.is_empty() { vec![Role::Learner] } else { self.roles.clone() };
        let id = self.app.member(&self.slug, &self.email, PASSWORD, &roles).await;
        if let Some((group, department)) = &self.record {
            self.app.staff_record(&self.slug, id, group, department).await;
        }
        id
    }

    /// Makes them and signs them in on their trust's site (agreeing to the terms).
    pub async fn signed_in(self) -> (Visitor, PersonId) {
        let (app, slug, email) = (self.app, self.slug.clone(), self.email.clone());
        let id = self.create().await;
        let mut v = app.visitor(&slug);
        v.sign_in_and_agree(&email, PASSWORD).await;
        (v, id)
    }
}

/// A course of a trust, made by [`TestApp::course`].
#[must_use = "a factory makes nothing until `create`"]
pub struct CourseFactory<'a> {
    app: &'a TestApp,
    slug: String,
    input: CourseInput,
    pages: Vec<(String, String)>,
    links: Vec<(String, String)>,
    path: Vec<CourseId>,
    publish: bool,
}

impl CourseFactory<'_> {
    /// Enrolment needs a training manager's approval (open, if not said).
    pub fn approval(mut self) -> Self {
        self.input.enrolment = "approval".into();
        self
    }

    /// What the catalogue says of it: summary, description, topic and length in minutes.
    pub fn described(mut self, summary: &str, description: &str, topic: &str, minutes: i32) -> Self {
        self.input.summary = summary.into();
        self.input.description = description.into();
        self.input.topic = topic.into();
        self.input.duration_minutes = minutes;
        self
    }

    /// Whether it offers a completion certificate (the default: when mandatory in the trust).
    pub fn certificate(mut self, offered: bool) -> Self {
        self.input.certificate = Some(offered);
        self
    }

    /// Its CPD points and accrediting body.
    pub fn cpd(mut self, points: i32, body: &str) -> Self {
        self.input.cpd_points = Some(points);
        self.input.accreditation = body.into();
        self
    }

    /// Adds a page session completed by viewing it.
    pub fn page(mut self, title: &str, body: &str) -> Self {
        self.pages.push((title.into(), body.into()));
        self
    }

    /// Adds a session that links to `url` elsewhere, completed by viewing it (after the pages).
    pub fn link(mut self, title: &str, url: &str) -> Self {
        self.links.push((title.into(), url.into()));
        self
    }

    /// Makes it a learning path of these courses, in order.
    pub fn path(mut self, courses: &[CourseId]) -> Self {
        self.input.kind = "path".into();
        self.path = courses.to_vec();
        self
    }

    /// Publishes it once made (it needs a session first).
    pub fn published(mut self) -> Self {
        self.publish = true;
        self
    }

    /// Makes it, in one transaction.
    pub async fn create(self) -> CourseId {
        let dbs = self.app.dbs().await;
        let tx = dbs.app.begin(self.app.tenant_id(&self.slug).await).await.expect("begin");
        let id = trellis_db::catalogue::create_course(&tx, &self.input).await.expect("create").expect("a free code");
        for (title, body) in &self.pages {
            let object = ObjectInput {
                title: title.clone(),
                kind: "page".into(),
                body: body.clone(),
                completion: "view".into(),
                ..ObjectInput::default()
            };
            trellis_db::catalogue::add_object(&tx, id, &object).await.expect("session").expect("the course");
        }
        for (title, url) in &self.links {
            let object = ObjectInput {
                title: title.clone(),
                kind: "link".into(),
                url: Some(url.clone()),
                completion: "view".into(),
                ..ObjectInput::default()
            };
            trellis_db::catalogue::add_object(&tx, id, &object).await.expect("session").expect("the course");
        }
        if !self.path.is_empty() {
            assert!(trellis_db::catalogue::set_path_courses(&tx, id, &self.path).await.expect("path"), "the path");
        }
        if self.publish {
            trellis_db::catalogue::publish(&tx, id).await.expect("publish").expect("publishable");
        }
        tx.commit().await.expect("commit");
        id
    }
}

impl TestApp {
    /// A member of `slug` with this email: `.roles(…)`, `.staff(…)`, then `.create()` or `.signed_in()`.
    pub fn person(&self, slug: &str, email: &str) -> PersonFactory<'_> {
        PersonFactory { app: self, slug: slug.into(), email: email.into(), roles: vec![], record: None }
    }

    /// A course of `slug`: `.page(…)`, `.approval()`, `.published()`, then `.create()`.
    pub fn course(&self, slug: &str, code: &str, title: &str) -> CourseFactory<'_> {
        let input = CourseInput {
            code: code.into(),
            kind: "course".into(),
            title: title.into(),
            enrolment: "open".into(),
            ..CourseInput::default()
        };
        CourseFactory {
            app: self,
            slug: slug.into(),
            input,
            pages: vec![],
            links: vec![],
            path: vec![],
            publish: false,
        }
    }
}
