#!/usr/bin/env python3
"""Writes the learning benchmark's inputs (deterministic: the same files every run).

    bench/learning_data.py OUT_DIR STAFF COURSES MANDATORY

OUT_DIR/catalogue.toml: COURSES courses for Northmoor's own catalogue (codes BENCH-0001…), the
first MANDATORY of them titled "Bench mandatory NN" (made mandatory for everyone by the script),
each with a summary and description drawn from a health-service vocabulary so that full-text
search has realistic postings, spread over 12 topics, 8 staff-group audiences and 4 duration bands.
OUT_DIR/staff.csv: STAFF rows in the ESR export's shape (assignment number, names, email under
northmoor.example, position, department, staff group, place of work), spread over the nine staff
groups and 120 departments.
"""
import random
import sys

out, staff, courses, mandatory = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261122)

words = (
    "patient safety infection prevention control hand hygiene moving handling manual falls pressure ulcer "
    "sepsis deterioration observation early warning score resuscitation basic life support paediatric adult "
    "safeguarding children vulnerable adults mental capacity deprivation liberty consent dementia delirium "
    "medicines management insulin anticoagulant controlled drugs administration prescribing blood transfusion "
    "venepuncture cannulation catheter care wound tissue viability nutrition hydration swallowing conflict "
    "resolution equality diversity human rights information governance data security cyber phishing records "
    "fire evacuation health safety welfare violence aggression lone working radiation ionising laser theatre "
    "surgical checklist anaesthetic recovery maternity neonatal midwifery obstetric emergency triage trauma "
    "stroke cardiac respiratory oxygen tracheostomy ventilation palliative end life bereavement communication "
    "leadership coaching appraisal supervision quality improvement audit research ethics duty candour"
).split()
topics = [
    "Statutory and mandatory", "Clinical skills", "Patient safety", "Safeguarding", "Medicines",
    "Leadership", "Digital and data", "Mental health", "Maternity", "Emergency care", "Wellbeing",
    "Quality improvement",
]
groups = [
    "Add Prof Scientific and Technic", "Additional Clinical Services", "Administrative and Clerical",
    "Allied Health Professionals", "Estates and Ancillary", "Healthcare Scientists", "Medical and Dental",
    "Nursing and Midwifery Registered", "Students",
]
durations = [15, 45, 90, 240]


def phrase(n):
    return " ".join(rng.choice(words) for _ in range(n))


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


with open(f"{out}/catalogue.toml", "w") as f:
    for i in range(1, courses + 1):
        if i <= mandatory:
            title = f"Bench mandatory {i:02d} {phrase(2)}"
            topic = topics[0]
        else:
            title = phrase(3).capitalize()
            topic = topics[i % len(topics)]
        f.write("[[course]]\n")
        f.write(f'code = "BENCH-{i:04d}"\n')
        f.write(f"title = {q(title)}\n")
        f.write(f"summary = {q(phrase(12).capitalize() + '.')}\n")
        f.write(f"description = {q(' '.join(phrase(14).capitalize() + '.' for _ in range(4)))}\n")
        f.write(f"topic = {q(topic)}\n")
        if i % 3 == 0:
            f.write(f"audience = [{q(groups[i % len(groups)])}]\n")
        f.write(f"duration_minutes = {durations[i % len(durations)]}\n")
        if i % 2 == 0:
            f.write("cpd_points = 1\n")
        for s in range(1, 4):
            f.write("\n[[course.session]]\n")
            f.write(f"title = {q(phrase(3).capitalize())}\n")
            f.write('kind = "page"\n')
            f.write(f"body = {q(phrase(40).capitalize() + '.')}\n")
        f.write("\n")

given = "Amara Ben Chloe David Ewa Farah George Hannah Imran Jack Kemi Liam Maya Noah Olu Priya Rhys Sara Tom Zoe".split()
family = "Okafor Hughes Patel Jones Smith Nowak Evans Khan Murphy Taylor Brown Wilson Ahmed Davies Lewis Walker".split()
positions = ["Staff Nurse", "Healthcare Assistant", "Porter", "Ward Clerk", "Physiotherapist", "Consultant",
             "Pharmacist", "Radiographer", "Domestic", "Midwife", "Biomedical Scientist", "Junior Doctor"]
with open(f"{out}/staff.csv", "w") as f:
    f.write("Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n")
    for i in range(1, staff + 1):
        g, fam = given[i % len(given)], family[(i // len(given)) % len(family)]
        f.write(
            f"{40000000 + i},{g},{fam},{g.lower()}.{fam.lower()}.{i}@northmoor.example,"
            f"{positions[i % len(positions)]},Department {i % 120:03d},{groups[i % len(groups)]},Northmoor General\n"
        )
