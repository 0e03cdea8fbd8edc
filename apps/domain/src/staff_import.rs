//! Reading a staff list exported from the HR system (ESR) as CSV: each row checked on its own, so
//! a dry run can show every bad row with what is wrong, and nothing is applied unless all are good.

use crate::identity::Email;
use crate::learning::staff_group;
use serde::Serialize;
use std::collections::HashMap;

/// The most rows one file may hold (a large trust's whole workforce fits).
pub const MAX_ROWS: usize = 60_000;
/// The largest file accepted.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// One member of staff as the file describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffRow {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub assignment_number: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub position: String,
    pub department: String,
    pub staff_group: String,
    pub place_of_work: String,
    /// When the assignment ends, if the file says (an optional column): a leaver once it has passed.
    pub end_date: Option<chrono::NaiveDate>,
    /// Their line manager's assignment number or email address (lower case), from the optional
    /// line-manager column: `None` without the column, `Some("")` for an empty cell (no line
    /// manager from HR).
    pub line_manager: Option<String>,
}

/// What is wrong with one row (or with the file, at line 0 or 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: usize,
    pub column: String,
    pub message: String,
}

const COLUMNS: [(&str, &[&str]); 8] = [
    ("assignment_number", &["assignment number", "assignment_number", "assignment no", "assignment"]),
    ("given_name", &["first name", "given name", "forename", "first_name", "given_name"]),
    ("family_name", &["last name", "surname", "family name", "last_name", "family_name"]),
    ("email", &["email", "email address", "work email", "e-mail"]),
    ("position", &["position", "position title", "job role", "job title"]),
    ("department", &["department", "organisation", "org l6", "ward"]),
    ("staff_group", &["staff group", "staff_group"]),
    ("place_of_work", &["place of work", "location", "site", "place_of_work"]),
];

/// The optional column of an assignment's end date.
const END_DATE: &[&str] = &["end date", "assignment end date", "leaving date", "end_date", "projected end date"];

/// The optional column of a line manager: their assignment number or email address.
const LINE_MANAGER: &[&str] = &[
    "line manager",
    "line_manager",
    "line manager assignment number",
    "line manager email",
    "line manager email address",
    "manager assignment number",
    "supervisor",
];

/// A date as HR exports write it: 2027-03-31, 31/03/2027 or 31-Mar-2027.
fn date_of(s: &str) -> Option<chrono::NaiveDate> {
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%b-%Y", "%d %b %Y"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(s.trim(), f).ok())
}

/// An ESR assignment number: eight digits, with `-N` for a second or later assignment.
pub fn assignment_ok(s: &str) -> bool {
    let (main, suffix) = s.split_once('-').unwrap_or((s, "1"));
    main.len() == 8
        && main.bytes().all(|b| b.is_ascii_digit())
        && !suffix.is_empty()
        && suffix.len() <= 2
        && suffix.bytes().all(|b| b.is_ascii_digit())
}

/// Reads the file. `Ok` holds every row when all are good; `Err` lists every problem found.
pub fn parse(bytes: &[u8]) -> Result<Vec<StaffRow>, Vec<RowError>> {
    let file_err = |line: usize, message: String| vec![RowError { line, column: String::new(), message }];
    if bytes.len() > MAX_BYTES {
        return Err(file_err(0, format!("The file is larger than {} MB.", MAX_BYTES / 1024 / 1024)));
    }
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(t) => t,
        Err(_) => return Err(file_err(0, "The file is not a CSV file saved as UTF-8 text.".into())),
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(file_err(1, format!("The first line cannot be read as CSV headings: {e}."))),
    };
    let mut index = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_lowercase();
        if let Some((name, _)) = COLUMNS.iter().find(|(_, names)| names.contains(&h.as_str())) {
            index.insert(*name, i);
        } else if END_DATE.contains(&h.as_str()) {
            index.insert("end_date", i);
        } else if LINE_MANAGER.contains(&h.as_str()) {
            index.insert("line_manager", i);
        }
    }
    let missing: Vec<_> =
        COLUMNS.iter().map(|(n, names)| (n, names[0])).filter(|(n, _)| !index.contains_key(*n)).collect();
    if !missing.is_empty() {
        return Err(missing
            .into_iter()
            .map(|(n, label)| RowError {
                line: 1,
                column: (*n).to_owned(),
                message: format!("The file has no \u{201c}{label}\u{201d} column."),
            })
            .collect());
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen_assignment: HashMap<String, usize> = HashMap::new();
    let mut seen_email: HashMap<String, usize> = HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        if rows.len() + errors.len() >= MAX_ROWS {
            errors.push(RowError {
                line,
                column: String::new(),
                message: format!("A file may hold at most {MAX_ROWS} rows."),
            });
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    column: String::new(),
                    message: format!("This line is not valid CSV: {e}."),
                });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |name: &str| index.get(name).and_then(|i| record.get(*i)).unwrap_or("").to_owned();
        let mut problems: Vec<(&str, String)> = Vec::new();
        // A control character (a NUL above all) cannot be stored, and is never meant.
        for (name, _) in COLUMNS {
            if get(name).chars().any(|c| c.is_control() && c != '\t') {
                problems.push((name, "This cell contains a control character (such as a NUL byte): remove it.".into()));
            }
        }
        let assignment = get("assignment_number");
        if !assignment_ok(&assignment) {
            problems.push((
                "assignment_number",
                format!(
                    "\u{201c}{assignment}\u{201d} is not an assignment number (8 digits, like 12345678 or 12345678-2)."
                ),
            ));
        } else if let Some(first) = seen_assignment.insert(assignment.clone(), line) {
            problems.push(("assignment_number", format!("Assignment number {assignment} is also on line {first}.")));
        }
        let given = get("given_name");
        let family = get("family_name");
        for (col, v, label) in [("given_name", &given, "first name"), ("family_name", &family, "last name")] {
            if v.is_empty() || v.chars().count() > 100 {
                problems.push((col, format!("Enter a {label} of 1 to 100 characters.")));
            }
        }
        let email = match Email::parse(&get("email")) {
            Ok(e) => {
                if let Some(first) = seen_email.insert(e.as_str().to_owned(), line) {
                    problems.push(("email", format!("{} is also on line {first}.", e.as_str())));
                }
                e.as_str().to_owned()
            }
            Err(m) => {
                problems.push(("email", m));
                String::new()
            }
        };
        let group_raw = get("staff_group");
        let group = match staff_group(&group_raw) {
            Some(g) => g.to_owned(),
            None => {
                problems.push((
                    "staff_group",
                    format!("\u{201c}{group_raw}\u{201d} is not a staff group the HR system uses."),
                ));
                String::new()
            }
        };
        let [position, department, place_of_work] =
            [("position", "position"), ("department", "department"), ("place_of_work", "place of work")].map(
                |(col, label)| {
                    let v = get(col);
                    if v.chars().count() > 200 {
                        problems.push((col, format!("The {label} is longer than 200 characters.")));
                    }
                    v
                },
            );
        let end_raw = get("end_date");
        let end_date = if end_raw.trim().is_empty() {
            None
        } else {
            let d = date_of(&end_raw);
            if d.is_none() {
                problems.push(("end_date", format!("\u{201c}{end_raw}\u{201d} is not a date (like 31/03/2027).")));
            }
            d
        };
        let line_manager = if index.contains_key("line_manager") {
            let raw = get("line_manager").trim().to_owned();
            if raw.is_empty() {
                Some(String::new())
            } else if assignment_ok(&raw) {
                if raw == assignment {
                    problems.push(("line_manager", "Someone cannot be their own line manager.".into()));
                }
                Some(raw)
            } else {
                match Email::parse(&raw) {
                    Ok(e) if e.as_str() == email => {
                        problems.push(("line_manager", "Someone cannot be their own line manager.".into()));
                        None
                    }
                    Ok(e) => Some(e.as_str().to_owned()),
                    Err(_) => {
                        problems.push((
                            "line_manager",
                            format!("\u{201c}{raw}\u{201d} is not an assignment number or an email address."),
                        ));
                        None
                    }
                }
            }
        } else {
            None
        };
        if problems.is_empty() {
            rows.push(StaffRow {
                line,
                assignment_number: assignment,
                given_name: given,
                family_name: family,
                email,
                position,
                department,
                staff_group: group,
                place_of_work,
                end_date,
                line_manager,
            });
        } else {
            errors.extend(problems.into_iter().map(|(column, message)| RowError {
                line,
                column: column.to_owned(),
                message,
            }));
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError { line: 2, column: String::new(), message: "The file has headings but no staff.".into() });
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEAD: &str = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";

    #[test]
    fn a_line_manager_is_an_assignment_number_or_an_email_and_never_oneself() {
        let head =
            "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work,Line Manager\n";
        let csv = format!(
            "{head}12345678,Ann,Lee,ann@nhs.net,Sister,Ward 7,Nursing and Midwifery Registered,General,87654321\n\
             12345679,Bo,Ray,bo@nhs.net,Nurse,Ward 7,Nursing and Midwifery Registered,General,ANN@nhs.net\n\
             12345680,Cy,Day,cy@nhs.net,Nurse,Ward 7,Nursing and Midwifery Registered,General,\n"
        );
        let rows = parse(csv.as_bytes()).unwrap();
        let managers: Vec<_> = rows.iter().map(|r| r.line_manager.clone()).collect();
        assert_eq!(managers, [Some("87654321".into()), Some("ann@nhs.net".into()), Some(String::new())]);
        let bad = format!(
            "{head}12345678,Ann,Lee,ann@nhs.net,Sister,Ward 7,Nursing and Midwifery Registered,General,12345678\n\
             12345679,Bo,Ray,bo@nhs.net,Nurse,Ward 7,Nursing and Midwifery Registered,General,the boss\n"
        );
        let errors = parse(bad.as_bytes()).unwrap_err();
        assert_eq!(
            errors.iter().map(|e| (e.line, e.column.as_str())).collect::<Vec<_>>(),
            [(2, "line_manager"), (3, "line_manager")]
        );
        assert!(errors[0].message.contains("their own line manager") && errors[1].message.contains("the boss"));
        let without =
            format!("{HEAD}12345678,Ann,Lee,ann@nhs.net,Sister,Ward 7,Nursing and Midwifery Registered,General\n");
        assert_eq!(parse(without.as_bytes()).unwrap()[0].line_manager, None);
    }

    #[test]
    fn a_good_file_reads_every_row() {
        let csv = format!(
            "{HEAD}12345678,Ann,Lee,ann.lee@nhs.net,Staff Nurse,Ward 7,nursing and midwifery registered,Northmoor General\n12345679-2,Bo,Ray,BO@nhs.net,Porter,Estates,Estates and Ancillary,Site B\n"
        );
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].staff_group, "Nursing and Midwifery Registered");
        assert_eq!(rows[1].email, "bo@nhs.net");
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn an_optional_end_date_column_is_read_in_the_formats_hr_exports_use() {
        let csv = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work,End Date\n\
             12345678,Ann,Lee,ann@nhs.net,N,W,Students,S,31/03/2027\n\
             12345679,Bo,Ray,bo@nhs.net,N,W,Students,S,2027-04-01\n\
             12345670,Cy,Ho,cy@nhs.net,N,W,Students,S,30-Apr-2027\n\
             12345671,Di,Oh,di@nhs.net,N,W,Students,S,\n";
        let rows = parse(csv.as_bytes()).unwrap();
        let ends: Vec<_> = rows.iter().map(|r| r.end_date.map(|d| d.to_string())).collect();
        assert_eq!(ends, vec![Some("2027-03-31".into()), Some("2027-04-01".into()), Some("2027-04-30".into()), None]);
        assert!(parse(HEAD.replace('\n', ",End Date\n").as_bytes()).is_err(), "headings only");
        let bad = format!("{},End Date\n12345678,Ann,Lee,ann@nhs.net,N,W,Students,S,soon\n", HEAD.trim_end());
        let errs = parse(bad.as_bytes()).unwrap_err();
        assert!(errs.iter().any(|e| e.column == "end_date" && e.message.contains("not a date")), "{errs:?}");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_column() {
        let csv = format!(
            "{HEAD}1234,Ann,Lee,ann@nhs.net,N,W,Students,S\n12345678,,Lee,not-an-email,N,W,Nurses,S\n12345678,Cy,Ho,cy@nhs.net,N,W,Students,S\n"
        );
        let errs = parse(csv.as_bytes()).unwrap_err();
        let at: Vec<_> = errs.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert!(at.contains(&(2, "assignment_number")), "{at:?}");
        assert!(at.contains(&(3, "given_name")));
        assert!(at.contains(&(3, "email")));
        assert!(at.contains(&(3, "staff_group")));
        assert!(at.contains(&(4, "assignment_number")), "duplicate assignment number: {at:?}");
    }

    #[test]
    fn a_control_character_in_a_cell_is_reported_with_its_column() {
        let csv = format!("{HEAD}12345678,Ann,Le\0e,ann@nhs.net,Nurse,W\u{1}ard,Students,S\n");
        let errs = parse(csv.as_bytes()).unwrap_err();
        let at: Vec<_> = errs.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert!(at.contains(&(2, "family_name")) && at.contains(&(2, "department")), "{at:?}");
    }

    #[test]
    fn missing_columns_and_non_text_files_are_refused() {
        let errs = parse(b"Name,Email\nAnn,ann@nhs.net\n").unwrap_err();
        assert!(errs.iter().any(|e| e.column == "assignment_number"));
        assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
        assert!(parse(HEAD.as_bytes()).is_err());
    }
}
