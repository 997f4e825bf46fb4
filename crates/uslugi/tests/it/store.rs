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
