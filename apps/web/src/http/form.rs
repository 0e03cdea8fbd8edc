//! A form's errors, one kit for every form: what was wrong with which field, in the order of the
//! form, ready for the NHS error summary and each field's error message.

use serde_json::json;

/// Errors by field. A field has one message (the last given); the summary lists fields in the
/// order they were first named, or in the form's order when one is given ([`Self::ordered_by`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    list: Vec<(String, String)>,
}

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// One error: `field` (the input's name) and what to do about it.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.insert(field, message);
        e
    }

    /// Says what is wrong with `field` (replacing what was said of it before).
    pub fn insert(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let (field, message) = (field.into(), message.into());
        match self.list.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = message,
            None => self.list.push((field, message)),
        }
    }

    /// Whether `field` has an error.
    pub fn contains_key(&self, field: &str) -> bool {
        self.list.iter().any(|(f, _)| f == field)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The errors, field and message, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.list.iter().map(|(f, m)| (f.as_str(), m.as_str()))
    }

    /// Puts the summary in the order of the form's fields (those not named go last).
    pub fn ordered_by(mut self, fields: &[&str]) -> Self {
        let position = |f: &str| fields.iter().position(|x| *x == f).unwrap_or(usize::MAX);
        self.list.sort_by_key(|(f, _)| position(f));
        self
    }

    /// Adds the page's `errors` (the summary: field and message, in order) and `error` (each
    /// field's message by name) for the templates.
    pub fn insert_into(&self, ctx: &mut tera::Context) {
        let (summary, by_field) = self.to_json();
        ctx.insert("errors", &summary);
        ctx.insert("error", &by_field);
    }

    /// The summary (a list of `{field, message}`) and each field's message by name, as JSON.
    pub fn to_json(&self) -> (serde_json::Value, serde_json::Value) {
        let summary = self.list.iter().map(|(f, m)| json!({ "field": f, "message": m })).collect::<Vec<_>>();
        let by_field = self.list.iter().map(|(f, m)| (f.clone(), json!(m))).collect::<serde_json::Map<_, _>>();
        (json!(summary), serde_json::Value::Object(by_field))
    }
}

impl IntoIterator for FormErrors {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

impl<F: Into<String>, M: Into<String>> FromIterator<(F, M)> for FormErrors {
    fn from_iter<I: IntoIterator<Item = (F, M)>>(iter: I) -> Self {
        let mut e = Self::new();
        for (f, m) in iter {
            e.insert(f, m);
        }
        e
    }
}

impl<F: Into<String>, M: Into<String>> Extend<(F, M)> for FormErrors {
    fn extend<I: IntoIterator<Item = (F, M)>>(&mut self, iter: I) {
        for (f, m) in iter {
            self.insert(f, m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_field_in_the_forms_order() {
        let mut e = FormErrors::new();
        e.insert("email", "Enter an email address");
        e.insert("given_name", "Enter your first name");
        e.insert("email", "Enter an email address in the right format");
        let e = e.ordered_by(&["given_name", "email"]);
        let got: Vec<_> = e.iter().collect();
        assert_eq!(
            got,
            vec![("given_name", "Enter your first name"), ("email", "Enter an email address in the right format")]
        );
        let (summary, by_field) = e.to_json();
        assert_eq!(summary[1]["field"], "email");
        assert_eq!(by_field["given_name"], "Enter your first name");
    }
}
