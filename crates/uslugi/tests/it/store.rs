//! Repository tests: the same assertions on SQLite and PostgreSQL.

use chrono::Duration;
use store::jobs::{JobQueue, JobState};

use crate::support::{on_both_backends, test_now};

#[test]
fn both_backends_have_the_same_migration_versions() {
    let versions = |b: store::Backend| b.migrator().iter().map(|m| m.version).collect::<Vec<_>>();
    let sqlite = versions(store::Backend::Sqlite);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, versions(store::Backend::Postgres));
}

on_both_backends! {
    async fn migrations_are_recorded_and_idempotent(app) {
        let db = app.db();
        let expected: Vec<i64> = db.backend().migrator().iter().map(|m| m.version).collect();
        assert_eq!(db.applied_migrations().await.unwrap(), expected);
        db.migrate().await.unwrap();
        assert_eq!(db.applied_migrations().await.unwrap(), expected);
    }
}

on_both_backends! {
    async fn a_newer_schema_is_refused(app) {
        let db = app.db();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from the future', TRUE, $1, 0)",
        )
        .bind(vec![0u8; 48])
        .execute(db.pool())
        .await
        .unwrap();
        let err = db.migrate().await.unwrap_err();
        assert!(matches!(err, store::StoreError::NewerSchema(99999)), "{err}");
    }
}

on_both_backends! {
    async fn jobs_run_in_order_once_due(app) {
        let q = JobQueue::new(app.db().clone());
        let now = test_now();
        let later = q.enqueue("mail", "{\"n\":2}", now + Duration::minutes(5), 3, now).await.unwrap();
        let first = q.enqueue("mail", "{\"n\":1}", now, 3, now).await.unwrap();
        q.enqueue("sms", "{}", now, 3, now).await.unwrap();

        let job = q.claim("mail", now, Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!((job.id.as_str(), job.payload.as_str(), job.attempts), (first.as_str(), "{\"n\":1}", 1));
        assert_eq!(q.claim("mail", now, Duration::seconds(30)).await.unwrap(), None, "the later one is not due");
        q.complete(&job.id, now).await.unwrap();
        assert_eq!(q.state(&job.id).await.unwrap(), Some(JobState::Done));

        let due = q.claim("mail", now + Duration::minutes(5), Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!(due.id, later);
    }
}

on_both_backends! {
    async fn a_dead_workers_job_is_taken_again_after_its_lease(app) {
        let q = JobQueue::new(app.db().clone());
        let now = test_now();
        let id = q.enqueue("mail", "{}", now, 3, now).await.unwrap();
        q.claim("mail", now, Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!(q.claim("mail", now + Duration::seconds(29), Duration::seconds(30)).await.unwrap(), None);
        let again = q.claim("mail", now + Duration::seconds(30), Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (id, 2));
    }
}

on_both_backends! {
    async fn failed_jobs_retry_until_attempts_run_out(app) {
        let q = JobQueue::new(app.db().clone());
        let now = test_now();
        let id = q.enqueue("mail", "{}", now, 2, now).await.unwrap();
        q.claim("mail", now, Duration::seconds(30)).await.unwrap().unwrap();
        let state = q.retry(&id, "smtp down", now + Duration::minutes(1), now).await.unwrap();
        assert_eq!(state, JobState::Queued);
        assert_eq!(q.claim("mail", now, Duration::seconds(30)).await.unwrap(), None, "backs off");
        let t = now + Duration::minutes(1);
        q.claim("mail", t, Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!(q.retry(&id, "smtp down", t, t).await.unwrap(), JobState::Failed);
        assert_eq!(q.claim("mail", t + Duration::days(1), Duration::seconds(30)).await.unwrap(), None);
    }
}

on_both_backends! {
    async fn concurrent_claimers_never_share_a_job(app) {
        let q = JobQueue::new(app.db().clone());
        let now = test_now();
        for i in 0..20 {
            q.enqueue("mail", &format!("{{\"n\":{i}}}"), now, 3, now).await.unwrap();
        }
        let mut workers = Vec::new();
        for _ in 0..4 {
            let q = q.clone();
            workers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(job) = q.claim("mail", now, Duration::minutes(1)).await.unwrap() {
                    got.push(job.id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let total = all.len();
        all.sort();
        all.dedup();
        assert_eq!((total, all.len()), (20, 20), "each job claimed exactly once");
    }
}

mod journal_chain {
    use journal::{ActorKind, Event, Journal, Origin, Outcome, Verdict};

    use super::*;

    fn event<'a>(origin: &'a Origin, action: &'a str, subject: &'a str) -> Event<'a> {
        Event {
            at: test_now(),
            actor: ActorKind::Citizen,
            actor_id: Some(subject),
            subject_id: Some(subject),
            action,
            outcome: Outcome::Ok,
            origin,
            details: serde_json::json!({"n": action}),
        }
    }

    async fn record_many(db: &store::Db, n: usize) {
        let origin = Origin { ip: Some("192.0.2.1".into()), user_agent: Some("test".into()) };
        for i in 0..n {
            let mut tx = db.begin().await.unwrap();
            let action = format!("test.event{i}");
            journal::record(&mut tx, &event(&origin, &action, "acc-1")).await.unwrap();
            tx.commit().await.unwrap();
        }
    }

    on_both_backends! {
        async fn entries_commit_with_their_event_and_chain_up(app) {
            let db = app.db().clone();
            let j = Journal::new(db.clone());
            // A rolled-back event leaves no entry.
            let origin = Origin::default();
            let mut tx = db.begin().await.unwrap();
            journal::record(&mut tx, &event(&origin, "test.rolled_back", "acc-1")).await.unwrap();
            tx.rollback().await.unwrap();
            assert_eq!(j.seal().await.unwrap(), 0);

            record_many(&db, 3).await;
            // The server's own sealer may take some of them first; together all three.
            assert!(j.seal().await.unwrap() <= 3);
            assert_eq!(j.seal().await.unwrap(), 0, "sealing is idempotent");
            assert_eq!(j.verify().await.unwrap(), Verdict::Intact { entries: 3 });
            let mine = j.for_subject("acc-1", 10).await.unwrap();
            assert_eq!(mine.len(), 3);
            assert!(mine.iter().all(|r| r.hash.is_some() && r.ip.as_deref() == Some("192.0.2.1")));
            assert!(j.for_subject("someone-else", 10).await.unwrap().is_empty());
        }
    }

    on_both_backends! {
        async fn a_changed_entry_is_named(app) {
            let db = app.db().clone();
            let j = Journal::new(db.clone());
            record_many(&db, 4).await;
            j.seal().await.unwrap();
            sqlx::query("UPDATE journal SET outcome = 'denied' WHERE seq = 2")
                .execute(db.pool())
                .await
                .unwrap();
            let Verdict::Broken { seq, .. } = j.verify().await.unwrap() else { panic!("not detected") };
            assert_eq!(seq, 2);
        }
    }

    on_both_backends! {
        async fn deleted_entries_are_detected(app) {
            let db = app.db().clone();
            let j = Journal::new(db.clone());
            record_many(&db, 4).await;
            j.seal().await.unwrap();
            sqlx::query("DELETE FROM journal WHERE seq = 3").execute(db.pool()).await.unwrap();
            let Verdict::Broken { seq, .. } = j.verify().await.unwrap() else { panic!("gap not detected") };
            assert_eq!(seq, 4, "the entry after the gap is the first broken one");
            sqlx::query("DELETE FROM journal WHERE seq = 4").execute(db.pool()).await.unwrap();
            assert!(matches!(j.verify().await.unwrap(), Verdict::Broken { .. }), "a cut tail is detected");
        }
    }

    on_both_backends! {
        async fn concurrent_sealers_build_one_chain(app) {
            let db = app.db().clone();
            record_many(&db, 30).await;
            let mut sealers = Vec::new();
            for _ in 0..4 {
                let j = Journal::new(db.clone());
                sealers.push(tokio::spawn(async move { j.seal().await.unwrap() }));
            }
            let mut sealed = 0;
            for s in sealers {
                sealed += s.await.unwrap();
            }
            // The server's own sealer may have taken some; none is sealed twice.
            assert!(sealed <= 30);
            let j = Journal::new(db);
            assert_eq!(j.seal().await.unwrap(), 0);
            assert_eq!(j.verify().await.unwrap(), Verdict::Intact { entries: 30 });
        }
    }
}

on_both_backends! {
    async fn applications_change_by_compare_and_set_and_numbers_count_up(app) {
        use store::applications::{self as apps, ApplicationRow, Filter};
        let db = app.db();
        let mut conn = db.conn().await.unwrap();
        let draft = |id: &str, account: &str, at: i64| ApplicationRow {
            id: id.into(),
            number: None,
            account_id: account.into(),
            service_id: "egrn-extract".into(),
            agency_id: "rosreestr".into(),
            status: "draft".into(),
            answers: "sealed".into(),
            created_at: at,
            updated_at: at,
            submitted_at: None,
            due_on: None,
            paused_on: None,
            act_by: None,
            claimed_by: None,
            version: 0,
        };
        apps::insert(&mut conn, &draft("a1", "p1", 10)).await.unwrap();
        apps::insert(&mut conn, &draft("a2", "p1", 20)).await.unwrap();
        apps::insert(&mut conn, &draft("a3", "p2", 30)).await.unwrap();
        // Two changes from the same version: the first wins, the second writes nothing.
        let mut first = apps::get(&mut conn, "a1").await.unwrap().unwrap();
        let mut second = first.clone();
        first.status = "submitted".into();
        first.number = Some("2026-0000001".into());
        first.due_on = Some("2026-11-25".into());
        first.act_by = Some("2026-11-27".into());
        first.submitted_at = Some(40);
        first.updated_at = 40;
        first.version += 1;
        second.status = "cancelled".into();
        second.version += 1;
        assert!(apps::update(&mut conn, &first).await.unwrap());
        assert!(!apps::update(&mut conn, &second).await.unwrap());
        assert_eq!(apps::get(&mut conn, "a1").await.unwrap().unwrap().status, "submitted");
        // Lists: the applicant's newest first; the agency's queue by due date, no drafts.
        let mine = apps::list(&mut conn, &Filter { account_id: Some("p1".into()), limit: 10, ..Filter::default() }).await.unwrap();
        assert_eq!(mine.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a1", "a2"]);
        let queue = apps::list(&mut conn, &Filter { agency_ids: vec!["rosreestr".into()], queue: true, limit: 10, ..Filter::default() }).await.unwrap();
        assert_eq!(queue.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a1"]);
        let by_number = apps::list(&mut conn, &Filter { number: Some("2026-0000001".into()), limit: 10, ..Filter::default() }).await.unwrap();
        assert_eq!(by_number.len(), 1);
        let drafts = apps::list(&mut conn, &Filter { statuses: vec!["draft".into()], from: Some(15), to: Some(35), limit: 10, ..Filter::default() }).await.unwrap();
        assert_eq!(drafts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a3", "a2"]);
        assert_eq!(apps::counts(&mut conn, &["rosreestr".into()]).await.unwrap(), vec![("submitted".to_owned(), 1)]);
        // Windows that closed before a day: the last day itself is still open.
        let closed = |day: &str| Filter { act_by_before: Some(day.into()), limit: 10, ..Filter::default() };
        assert!(apps::list(&mut conn, &closed("2026-11-27")).await.unwrap().is_empty());
        let late = apps::list(&mut conn, &closed("2026-11-28")).await.unwrap();
        assert_eq!(late.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a1"]);
        // Only the owner's draft can be deleted.
        assert!(!apps::delete_draft(&mut conn, "a2", "p2").await.unwrap());
        assert!(apps::delete_draft(&mut conn, "a2", "p1").await.unwrap());
        assert!(!apps::delete_draft(&mut conn, "a1", "p1").await.unwrap(), "submitted stays");
        // Counters start at 1 and count up per name.
        assert_eq!(apps::next_counter(&mut conn, "applications-2026").await.unwrap(), 1);
        assert_eq!(apps::next_counter(&mut conn, "applications-2026").await.unwrap(), 2);
        assert_eq!(apps::next_counter(&mut conn, "applications-2027").await.unwrap(), 1);
    }
}

on_both_backends! {
    async fn shared_commits_keep_what_succeeded_and_nothing_of_what_failed(app) {
        use sqlx::Row as _;
        let db = app.db().clone();
        // Twenty pieces of work at once, so that they share commits; every third fails
        // after it has written.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let db = db.clone();
            tasks.spawn(async move {
                let name = format!("shared-{i}");
                let out = db
                    .shared(move |tx| {
                        let name = name.clone();
                        Box::pin(async move {
                            let n = store::applications::next_counter(tx, &name).await?;
                            if i % 3 == 0 {
                                return Err(store::StoreError::Corrupt(format!("work {i} refused")));
                            }
                            Ok(n)
                        })
                    })
                    .await;
                (i, out)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, out) = done.unwrap();
            match out {
                Ok(n) => assert!(i % 3 != 0 && n == 1, "work {i} gave {n}"),
                Err(e) => assert!(i % 3 == 0 && e.to_string().contains("refused"), "work {i}: {e}"),
            }
        }
        let rows = sqlx::query("SELECT name, value FROM counters WHERE name LIKE 'shared-%' ORDER BY name")
            .fetch_all(&mut *db.read().await.unwrap())
            .await
            .unwrap();
        let mut kept: Vec<(String, i64)> = rows.iter().map(|r| (r.get("name"), r.get("value"))).collect();
        kept.sort();
        let mut expected: Vec<(String, i64)> =
            (0..20).filter(|i| i % 3 != 0).map(|i| (format!("shared-{i}"), 1)).collect();
        expected.sort();
        assert_eq!(kept, expected, "each success once, nothing of a failure");
    }
}

on_both_backends! {
    async fn jobs_are_claimed_in_batches_oldest_first(app) {
        let q = JobQueue::new(app.db().clone());
        let now = test_now();
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(q.enqueue("batch", &format!("{{\"n\":{n}}}"), now - Duration::seconds(10 - n), 3, now).await.unwrap());
        }
        let first = q.claim_many("batch", now, Duration::seconds(30), 3).await.unwrap();
        assert_eq!(first.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), ids[..3].to_vec());
        let rest = q.claim_many("batch", now, Duration::seconds(30), 3).await.unwrap();
        assert_eq!(rest.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), ids[3..].to_vec());
        assert!(q.claim_many("batch", now, Duration::seconds(30), 3).await.unwrap().is_empty());
    }
}

/// Files in an S3-compatible bucket: a real S3 server (s3s on a scratch directory, with
/// signed requests) behind `Blobs::s3`, as `files_url` configures it.
#[tokio::test]
async fn blobs_live_in_an_s3_bucket() {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let root = std::env::temp_dir().join(format!("uslugi-s3-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(root.join("uslugi-files")).unwrap();
    let service = {
        let mut b = s3s::service::S3ServiceBuilder::new(s3s_fs::FileSystem::new(&root).unwrap());
        b.set_auth(s3s::auth::SimpleAuth::from_single("uslugi", "s3cret-key"));
        b.build()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        while let Ok((socket, _)) = listener.accept().await {
            let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            tokio::spawn(conn);
        }
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let s3 = store::blobs::S3 {
        endpoint: Some(format!("http://{addr}")),
        region: Some("ru-central1".into()),
        credentials: Some(("uslugi".into(), "s3cret-key".into())),
    };
    let blobs = store::blobs::Blobs::s3("s3://uslugi-files/node-1", &s3).unwrap();
    blobs.put("applications/ab/file-1", b"sealed bytes".to_vec()).await.unwrap();
    assert_eq!(
        blobs.get("applications/ab/file-1").await.unwrap().as_deref(),
        Some(&b"sealed bytes"[..])
    );
    assert!(
        root.join("uslugi-files/node-1/applications/ab/file-1").is_file(),
        "in the bucket, under the prefix"
    );
    assert_eq!(blobs.get("applications/ab/missing").await.unwrap(), None);
    blobs.delete("applications/ab/file-1").await.unwrap();
    assert_eq!(blobs.get("applications/ab/file-1").await.unwrap(), None);
    blobs.delete("applications/ab/file-1").await.unwrap();

    let wrong = store::blobs::S3 { credentials: Some(("uslugi".into(), "wrong".into())), ..s3 };
    let refused = store::blobs::Blobs::s3("s3://uslugi-files", &wrong).unwrap();
    assert!(refused.put("x", b"y".to_vec()).await.is_err(), "a wrong secret is refused");
    assert!(store::blobs::Blobs::s3("file:///tmp", &store::blobs::S3::default()).is_err());
    let _ = std::fs::remove_dir_all(&root);
}
