//! The marketing pack (issue 22): a training manager downloads, in their trust's name and colours,
//! A4 posters whose text names the trust and whose QR code (read back with zbarimg) opens the
//! trust's site, banners in three sizes, the announcement email and the guide; staff cannot, and
//! another trust's pack is its own.

use super::records::pdf_pages;
use std::io::Read;
use trellis_domain::identity::Role;
use trellis_testkit::spawn_app;

fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.insert(f.name().unwrap().to_string(), b);
    }
    out
}

/// The QR codes on the PDF's first page, as zbarimg reads them from a rendering at 150 dpi.
fn qr_codes(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pdf"), pdf).unwrap();
    let png = dir.path().join("page");
    let ok = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(dir.path().join("p.pdf"))
        .arg(&png)
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(ok.success());
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(dir.path().join("page.png"))
        .output()
        .expect("zbarimg (zbar-tools; run scripts/install-test-deps.sh)");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// How many pixels of the PDF's first page, rendered at 50 dpi, are within 12 of `rgb` in each
/// channel, in the top fifth of the page (the band with the trust's name and logo).
fn band_pixels_of(pdf: &[u8], rgb: [u8; 3]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pdf"), pdf).unwrap();
    let ok = std::process::Command::new("pdftoppm")
        .args(["-r", "50", "-singlefile"])
        .arg(dir.path().join("p.pdf"))
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm (poppler-utils)");
    assert!(ok.success());
    let ppm = std::fs::read(dir.path().join("page.ppm")).unwrap();
    // P6 <width> <height> 255, then RGB bytes.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&ppm[start..at]).into_owned());
    }
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &ppm[at + 1..];
    (0..w * h / 5).filter(|i| pixels[i * 3..i * 3 + 3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 12)).count()
}

#[tokio::test]
async fn a_trust_downloads_its_own_marketing_pack() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut amara, _) = app.person("northmoor", "amara@northmoor.example").signed_in().await;
    assert_eq!(amara.get("/admin/marketing").await.status, 403, "training managers only");
    assert_eq!(amara.get_bytes("/admin/marketing/pack.zip").await.0, 403);

    let page = boss.get("/admin/marketing").await;
    assert!(page.status == 200 && page.body.contains("Download the marketing pack"));
    let (status, kind, bytes) = boss.get_bytes("/admin/marketing/pack.zip").await;
    assert_eq!((status, kind.as_str()), (200, "application/zip"));
    let files = unzip(&bytes);
    let names: Vec<&String> = files.keys().collect();
    for want in [
        "posters/mandatory-training.pdf",
        "posters/learning-time.pdf",
        "banners/banner-728x90.svg",
        "banners/banner-300x250.svg",
        "banners/banner-160x600.svg",
        "emails/announcement.html",
        "emails/announcement.txt",
        "hints-and-tips.txt",
    ] {
        assert!(files.contains_key(want), "{want}: {names:?}");
    }

    // The posters: the trust's name, the headline and its site's address, and a QR code to it.
    let state = app.server.as_ref().unwrap().state.clone();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    let text = pdf_pages(&files["posters/mandatory-training.pdf"]).join("\n");
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("Northmoor Teaching Hospitals NHS Foundation Trust"), "{text}");
    assert!(words.contains("Your mandatory training, when it suits you") && words.contains(&site.url), "{text}");
    assert_eq!(qr_codes(&files["posters/mandatory-training.pdf"]), vec![site.url.to_string()]);
    let text = pdf_pages(&files["posters/learning-time.pdf"]).join("\n");
    assert!(text.contains("Make time to learn"), "{text}");
    // The trust's logo is in the band: Northmoor's rising sun (#ffb81c), drawn from its SVG.
    for poster in ["posters/mandatory-training.pdf", "posters/learning-time.pdf"] {
        assert!(band_pixels_of(&files[poster], [0xff, 0xb8, 0x1c]) > 20, "{poster}: no logo in the band");
    }

    // The banners in the trust's colours; the email and the guide name the trust and its site.
    let colours = &site.entry.colours;
    for (name, svg) in files.iter().filter(|(n, _)| n.ends_with(".svg")) {
        let svg = String::from_utf8_lossy(svg);
        assert!(svg.contains(&colours.primary.to_string()) && svg.contains("Northmoor"), "{name}: {svg}");
        assert!(!svg.contains("<script"), "{name}");
    }
    let email = String::from_utf8_lossy(&files["emails/announcement.html"]);
    assert!(email.contains("Northmoor") && email.contains(&site.url), "{email}");
    let guide = String::from_utf8_lossy(&files["hints-and-tips.txt"]);
    assert!(guide.contains(&format!("{}admin/coaches", site.url)), "{guide}");

    // One poster alone, as the page links it; a poster that is not one is not found.
    let (status, kind, one) = boss.get_bytes("/admin/marketing/posters/2.pdf").await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(pdf_pages(&one).join("\n").contains("Make time to learn"));
    assert_eq!(boss.get_bytes("/admin/marketing/posters/9.pdf").await.0, 404);

    // Riverside's pack is Riverside's.
    let (mut rita, _) =
        app.person("riverside", "rita@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let theirs = unzip(&rita.get_bytes("/admin/marketing/pack.zip").await.2);
    let text = pdf_pages(&theirs["posters/mandatory-training.pdf"]).join("\n");
    assert!(text.contains("Riverside") && !text.contains("Northmoor"), "{text}");
    assert_eq!(
        band_pixels_of(&theirs["posters/mandatory-training.pdf"], [0xff, 0xb8, 0x1c]),
        0,
        "not Northmoor's logo"
    );
    assert!(band_pixels_of(&theirs["posters/mandatory-training.pdf"], [0x8e, 0xe3, 0xd6]) > 5, "Riverside's own logo");
}
