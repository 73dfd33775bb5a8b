//! Verifiable exports: an incident filed with a photo on a phone, reviewed on the console of a
//! real server process, exported with `rounds-server export incident` and checked with
//! `rounds-server verify`, offline; then every part of the bundle tampered with, one at a
//! time, and each tampering named. The same for a day's activity report, exported from the
//! console and from `rounds-server export day`.

use std::io::Read;

use reqwest::StatusCode;
use rounds_core::entropy::SeededEntropy;
use rounds_core::model::*;
use rounds_server::evidence::{self, Manifest, ManifestFile};
use rounds_server::seed::ids;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::console::Browser;
use crate::support::*;

/// The files of a tar archive, in order.
fn files_of(bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bundle);
    a.entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let path = e.path().expect("path").to_str().expect("utf8").to_string();
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            (path, b)
        })
        .collect()
}

/// A tar archive of `files`.
fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (path, b) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, path, b.as_slice()).expect("append");
    }
    t.into_inner().expect("tar")
}

fn get<'a>(files: &'a mut [(String, Vec<u8>)], path: &str) -> &'a mut Vec<u8> {
    &mut files
        .iter_mut()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} in the bundle"))
        .1
}

/// `files` after an edit, with the manifest brought up to date and signed again with `key`:
/// what someone holding the district's console key could make. The checks under the
/// manifest must still catch the edit.
fn resigned(
    files: &[(String, Vec<u8>)],
    key: &rounds_core::signing::SigningSecret,
    edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
) -> Vec<u8> {
    let mut files = files.to_vec();
    edit(&mut files);
    // Either kind of manifest: its list of files is rewritten, the rest kept.
    let mut manifest: serde_json::Value =
        serde_json::from_slice(get(&mut files, "manifest.json")).expect("manifest");
    let listed: Vec<ManifestFile> = files
        .iter()
        .filter(|(p, _)| p != "manifest.json" && p != "manifest.sig")
        .map(|(p, b)| ManifestFile {
            path: p.clone(),
            bytes: b.len() as u64,
            sha256: hex::encode(Sha256::digest(b)),
        })
        .collect();
    manifest["files"] = serde_json::to_value(listed).expect("files");
    let bytes = serde_json::to_vec_pretty(&manifest).expect("json");
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    *get(&mut files, "manifest.sig") = hex::encode(key.sign_bundle(&digest)).into_bytes();
    *get(&mut files, "manifest.json") = bytes;
    tar_of(&files)
}

fn refused(bundle: &[u8]) -> String {
    match evidence::verify(bundle) {
        Ok(p) => panic!("verified: {}", p.summary()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_exported_incident_verifies_offline_and_every_tampering_is_named() {
    let data = seeded_district();
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("console.key");
    let key_arg = key_file.to_str().expect("utf8");
    let (made, public) = server_cli(&data, &["console-key", "new", key_arg]);
    assert!(made, "{public}");
    let public = public.trim().to_string();
    let key = rounds_server::console_key::load(&key_file).expect("key");

    // Olga files an incident with a photo on her phone and submits it; Sam returns it on the
    // console, she adds the time and submits again, and he approves it.
    let server = ServerProcess::start(&data, &[("ROUNDS_CONSOLE_KEY_FILE", key_arg)]);
    let mut olga = enroll_with_cli(&server, &data, &OLGA);
    let olga_id = olga.session.person_id;
    olga.sync().expect("reference");
    let photo = jpeg(11, 30_000);
    let photo_hash = olga
        .store
        .add_photo(&photo, at(5), &mut SeededEntropy::new(4))
        .expect("photo");
    let id = Uuid::from_u128(0xE71);
    olga.store
        .create_incident(
            &IncidentInput {
                id,
                school_id: ids::LINCOLN,
                incident_type: IncidentType::FightAssault,
                location: "Cafeteria".into(),
                occurred_at: at(5),
                people: vec![],
                narrative: "Two students fought by the lunch line.".into(),
                actions: "Separated them; called the office.".into(),
                photos: vec![photo_hash.clone()],
            },
            at(6),
        )
        .expect("incident");
    olga.store.submit_incident(id, at(7)).expect("submit");
    olga.sync().expect("push and photo");
    let (_, mut sam) = Browser::sign_in(&server.base, &SUPERVISOR);
    let review = |b: &mut Browser, decision: &str, comment: &str| {
        let r = b.post(
            &format!("/console/incidents/{id}/review"),
            &[("decision", decision), ("comment", comment)],
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    };
    review(&mut sam, "return", "When did you call the office?");
    olga.sync().expect("pull the review");
    olga.store
        .edit_incident(
            id,
            &IncidentEdit {
                actions: Some("Separated them; called the office at 12:10.".into()),
                ..IncidentEdit::default()
            },
            at(20),
        )
        .expect("edit");
    olga.store.submit_incident(id, at(21)).expect("resubmit");
    olga.sync().expect("push");
    review(&mut sam, "approve", "");

    // Sam downloads the bundle from the incident page: a POST with his session's token.
    let page = sam.get(&format!("/console/incidents/{id}"));
    assert!(
        page.body
            .contains(&format!("/console/incidents/{id}/export")),
        "the page offers the export"
    );
    let download = sam.post(&format!("/console/incidents/{id}/export"), &[]);
    assert_eq!(download.status, StatusCode::OK, "{}", download.body);
    assert_eq!(download.content_type, "application/x-tar");
    let from_console = dir.path().join("from-console.tar");
    std::fs::write(&from_console, &download.bytes).expect("write");
    drop(server);

    // Exported from the command line, checked with no server and no database.
    let out = dir.path().join("incident.tar");
    let out_arg = out.to_str().expect("utf8");
    let id_arg = id.to_string();
    let export = || {
        server_cli(
            &data,
            &[
                "export",
                "incident",
                &id_arg,
                "--out",
                out_arg,
                "--console-key-file",
                key_arg,
            ],
        )
    };
    let (ok, said) = export();
    assert!(ok, "{said}");
    let (again, why) = export();
    assert!(!again && why.contains("exists"), "never overwritten: {why}");
    let verify_file = |file: &std::path::Path| {
        let out = std::process::Command::new(SERVER_BIN)
            .arg("verify")
            .arg(file)
            .env_clear()
            .output()
            .expect("verify");
        let proof = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{proof}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        proof
    };
    let console_proof = verify_file(&from_console);
    assert!(
        console_proof.contains("by Sam") && console_proof.contains("Reviewed by: Sam"),
        "the console's bundle names who downloaded it: {console_proof}"
    );
    let proof = verify_file(&out);
    for expected in [
        "Bundle verified: incident",
        "Incident created by Olga",
        "Submitted for review by Olga",
        "Reviewed by Sam",
        "Reviewed by: Sam",
        "Photos: 1 checked",
        &public,
    ] {
        assert!(proof.contains(expected), "{expected:?} in:\n{proof}");
    }

    // The export is in the audit trail, naming the bundle's manifest, and the trail holds.
    let bundle = std::fs::read(&out).expect("bundle");
    let files = files_of(&bundle);
    let manifest_of = |files: &[(String, Vec<u8>)]| {
        let (_, bytes) = files
            .iter()
            .find(|(p, _)| p == "manifest.json")
            .expect("a manifest");
        hex::encode(Sha256::digest(bytes))
    };
    let manifest_sha = manifest_of(&files);
    assert!(said.contains(&manifest_sha), "{said}");
    let (listed, text) = server_cli(&data, &["audit", "list", "--limit", "10000"]);
    assert!(listed, "{text}");
    let trail: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("an entry"))
        .collect();
    assert!(
        trail.iter().any(|e| e["kind"] == "exported"
            && e["detail"]["manifest_sha256"] == manifest_sha.as_str()
            && e["detail"]["docs"][0] == id_arg.as_str()
            && e["detail"]["via"] == "cli"),
        "the export is recorded"
    );
    let console_sha = manifest_of(&files_of(&std::fs::read(&from_console).expect("bundle")));
    assert!(
        trail.iter().any(|e| e["kind"] == "exported"
            && e["detail"]["manifest_sha256"] == console_sha.as_str()
            && e["detail"]["via"] == "console"
            && e["person"].is_string()),
        "the console's export is recorded, with who made it"
    );
    let (holds, why) = server_cli(&data, &["audit", "verify"]);
    assert!(holds, "{why}");

    // What the bundle holds.
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for p in [
        "manifest.json",
        "manifest.sig",
        "report.json",
        "report.pdf",
        "signatures.json",
        "audit.jsonl",
    ] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    assert!(paths.contains(&format!("photos/{photo_hash}.jpg").as_str()));
    let changes = paths.iter().filter(|p| p.starts_with("changes/")).count();
    assert_eq!(
        changes, 6,
        "create, submit, return, edit, submit, approve: {paths:?}"
    );
    assert_eq!(
        &files
            .iter()
            .find(|(p, _)| p.starts_with("photos/"))
            .expect("photo")
            .1,
        &photo
    );
    let audit = String::from_utf8(
        files
            .iter()
            .find(|(p, _)| p == "audit.jsonl")
            .expect("audit")
            .1
            .clone(),
    )
    .expect("utf8");
    assert!(
        audit.lines().count() >= 3,
        "pushes and console views: {audit}"
    );

    // One byte changed in any file: named, with no key needed to tell.
    for (i, (path, b)) in files.iter().enumerate() {
        let mut t = files.clone();
        let at = b.len() / 2;
        t[i].1[at] ^= 0x01;
        let why = refused(&tar_of(&t));
        assert!(why.contains(path.as_str()), "{path}: {why}");
    }
    // A file dropped, or one added.
    let why = refused(&tar_of(
        &files
            .iter()
            .filter(|(p, _)| !p.starts_with("photos/"))
            .cloned()
            .collect::<Vec<_>>(),
    ));
    assert!(
        why.contains("photos/") && why.contains("not in the bundle"),
        "{why}"
    );
    let mut more = files.clone();
    more.push(("notes.txt".into(), b"an addition".to_vec()));
    let why = refused(&tar_of(&more));
    assert!(
        why.contains("notes.txt") && why.contains("not in the manifest"),
        "{why}"
    );
    // Signed by another key than the district's: it verifies, but names that key, which is
    // not the one the district publishes.
    let stranger = rounds_core::signing::SigningSecret::generate(&mut SeededEntropy::new(77));
    let forged = resigned(&files, &stranger, |f| {
        let mut m: Manifest = serde_json::from_slice(get(f, "manifest.json")).expect("m");
        m.console_key = hex::encode(stranger.public());
        *get(f, "manifest.json") = serde_json::to_vec(&m).expect("json");
    });
    let p = evidence::verify(&forged)
        .expect("self-consistent")
        .summary();
    assert!(
        !p.contains(&public) && p.contains(&hex::encode(stranger.public())),
        "{p}"
    );
    let keyless = resigned(&files, &stranger, |_| {});
    assert!(
        refused(&keyless).contains("manifest.sig"),
        "a manifest signed by a key it does not name"
    );

    // Someone holding the district's key, who re-signs the manifest after an edit, is still
    // caught by the people's signatures, the hashes and the chain.
    let change_paths: Vec<String> = paths
        .iter()
        .filter(|p| p.starts_with("changes/"))
        .map(|p| p.to_string())
        .collect();
    let why = refused(&resigned(&files, &key, |f| {
        let b = get(f, &change_paths[2]);
        let n = b.len() - 3;
        b[n] ^= 0x01;
    }));
    assert!(
        why.contains(&change_paths[2]),
        "a changed byte in a change: {why}"
    );
    let why = refused(&resigned(&files, &key, |f| {
        f.retain(|(p, _)| *p != change_paths[0]);
    }));
    assert!(
        why.contains("not in the bundle") || why.contains("heads"),
        "a change left out: {why}"
    );
    let why = refused(&resigned(&files, &key, |f| {
        let mut s: Vec<evidence::BundleSignature> =
            serde_json::from_slice(get(f, "signatures.json")).expect("sigs");
        let mut b = hex::decode(&s[0].signature).expect("hex");
        b[10] ^= 0x01;
        s[0].signature = hex::encode(b);
        *get(f, "signatures.json") = serde_json::to_vec(&s).expect("json");
    }));
    assert!(
        why.contains("signatures.json entry 1") && why.contains("does not verify"),
        "{why}"
    );
    let why = refused(&resigned(&files, &key, |f| {
        let s: Vec<evidence::BundleSignature> =
            serde_json::from_slice(get(f, "signatures.json")).expect("sigs");
        // Olga's signatures dropped: her changes are signed by nobody.
        let kept: Vec<_> = s.into_iter().filter(|s| s.person != olga_id).collect();
        *get(f, "signatures.json") = serde_json::to_vec(&kept).expect("json");
    }));
    assert!(
        why.contains("not covered by a signature of its maker"),
        "{why}"
    );
    let why = refused(&resigned(&files, &key, |f| {
        let mut r: serde_json::Value = serde_json::from_slice(get(f, "report.json")).expect("r");
        r["narrative"] = "Nothing happened.".into();
        *get(f, "report.json") = serde_json::to_vec(&r).expect("json");
    }));
    assert!(
        why.contains("report.json") && why.contains("signed changes"),
        "{why}"
    );
    let photo_path = format!("photos/{photo_hash}.jpg");
    let why = refused(&resigned(&files, &key, |f| {
        get(f, &photo_path)[100] ^= 0x01;
    }));
    assert!(
        why.contains(&photo_path) && why.contains("SHA-256"),
        "{why}"
    );
    let why = refused(&resigned(&files, &key, |f| {
        let text = String::from_utf8(get(f, "audit.jsonl").clone()).expect("utf8");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[0] = lines[0].replacen("\\\"kind\\\"", "\\\"kind\\\" ", 1);
        *get(f, "audit.jsonl") = (lines.join("\n") + "\n").into_bytes();
    }));
    assert!(
        why.contains("audit.jsonl line 1") && why.contains("hash"),
        "a changed entry: {why}"
    );
    let why = refused(&resigned(&files, &key, |f| {
        let text = String::from_utf8(get(f, "audit.jsonl").clone()).expect("utf8");
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(0, 1);
        *get(f, "audit.jsonl") = (lines.join("\n") + "\n").into_bytes();
    }));
    assert!(
        why.contains("audit.jsonl line 2") && why.contains("out of order"),
        "reordered: {why}"
    );
}

#[test]
fn a_days_report_exports_with_every_record_it_counts_and_each_tampering_is_named() {
    let data = seeded_district();
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("console.key");
    let key_arg = key_file.to_str().expect("utf8");
    let (made, public) = server_cli(&data, &["console-key", "new", key_arg]);
    assert!(made, "{public}");
    let key = rounds_server::console_key::load(&key_file).expect("key");

    // Gia walks a round of three checks at Lincoln, Olga files an incident there, both sync.
    let server = ServerProcess::start(&data, &[("ROUNDS_CONSOLE_KEY_FILE", key_arg)]);
    let mut gia = enroll_with_cli(&server, &data, &GIA);
    gia.sync().expect("reference");
    let shift = shift_with_checks(&mut gia, 0xD1, ids::LINCOLN_MAIN, 3);
    gia.sync().expect("push");
    let mut olga = enroll_with_cli(&server, &data, &OLGA);
    olga.sync().expect("reference");
    let incident = incident_at(&mut olga, 0xD2, ids::LINCOLN, "Trespass at the north gate");
    olga.sync().expect("push");
    let date = at(0).date_naive().to_string();

    // Sam downloads the day's bundle from the reports page.
    let (_, mut sam) = Browser::sign_in(&server.base, &SUPERVISOR);
    let page = sam.get(&format!("/console/reports?date={date}"));
    assert!(
        page.body.contains("/console/reports/daily.tar")
            && page.body.contains(&format!(
                r#"<input type="hidden" name="date" value="{date}">"#
            )),
        "offered, for the day on screen"
    );
    let download = sam.post(
        "/console/reports/daily.tar",
        &[("date", date.as_str()), ("school", "")],
    );
    assert_eq!(download.status, StatusCode::OK, "{}", download.body);
    assert_eq!(download.content_type, "application/x-tar");
    let proof = evidence::verify(&download.bytes)
        .expect("the console's bundle verifies")
        .summary();
    for expected in [
        format!("daily activity report of {date}"),
        "It covers 1 shifts and 1 incidents".into(),
        shift.to_string(),
        incident.to_string(),
        "by Gia".into(),
        "by Olga".into(),
    ] {
        assert!(
            proof.contains(expected.as_str()),
            "{expected:?} in:\n{proof}"
        );
    }
    drop(server);

    // From the command line, for Lincoln alone; recorded with every record it holds.
    let out = dir.path().join("day.tar");
    let out_arg = out.to_str().expect("utf8");
    let school = ids::LINCOLN.to_string();
    let (ok, said) = server_cli(
        &data,
        &[
            "export",
            "day",
            &date,
            "--school",
            &school,
            "--out",
            out_arg,
            "--console-key-file",
            key_arg,
        ],
    );
    assert!(ok, "{said}");
    let verify = std::process::Command::new(SERVER_BIN)
        .arg("verify")
        .arg(&out)
        .env_clear()
        .output()
        .expect("verify");
    let text = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(verify.status.success(), "{text}");
    assert!(text.contains("for Lincoln High School"), "{text}");
    let (_, trail) = server_cli(&data, &["audit", "list", "--limit", "10000"]);
    let exports: Vec<serde_json::Value> = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("an entry"))
        .filter(|e| e["kind"] == "exported" && e["detail"]["report"] == "daily")
        .collect();
    assert_eq!(exports.len(), 2, "the console's and the command line's");
    for e in &exports {
        let docs: Vec<&str> = e["detail"]["docs"]
            .as_array()
            .expect("docs")
            .iter()
            .map(|d| d.as_str().expect("id"))
            .collect();
        assert!(
            docs.contains(&shift.to_string().as_str())
                && docs.contains(&incident.to_string().as_str())
        );
    }
    assert_eq!(exports[0]["detail"]["via"], "console");
    assert_eq!(exports[1]["detail"]["via"], "cli");

    // Tampering, with the manifest re-signed by the district's own key each time.
    let files = files_of(&std::fs::read(&out).expect("bundle"));
    let shift_dir = format!("records/{shift}/");
    let a_change = files
        .iter()
        .find(|(p, _)| p.starts_with(&format!("{shift_dir}changes/")))
        .expect("a change of the shift")
        .0
        .clone();
    let flipped = resigned(&files, &key, |f| {
        let b = get(f, &a_change);
        let n = b.len() / 2;
        b[n] ^= 1;
    });
    assert!(refused(&flipped).contains(&shift_dir), "a change's byte");
    let unsigned = resigned(&files, &key, |f| {
        *get(f, &format!("{shift_dir}signatures.json")) = b"[]\n".to_vec();
    });
    assert!(
        refused(&unsigned).contains("not covered by a signature"),
        "signatures dropped"
    );
    let dropped = resigned(&files, &key, |f| f.retain(|(p, _)| p != &a_change));
    assert!(refused(&dropped).contains(&shift_dir), "a change left out");
    let stray = resigned(&files, &key, |f| {
        f.push((
            format!("records/{}/changes/x.amc", Uuid::from_u128(0xBAD)),
            vec![1, 2, 3],
        ));
    });
    assert!(
        refused(&stray).contains("belongs to no record"),
        "a record the manifest does not name"
    );
    let mut csv = files.clone();
    get(&mut csv, "report.csv")[0] ^= 1;
    assert!(
        refused(&tar_of(&csv)).contains("report.csv"),
        "the CSV's byte"
    );
}
