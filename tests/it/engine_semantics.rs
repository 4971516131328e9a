//! DESIGN.md §2, case by case, against every store.

use std::sync::Arc;
use std::time::Duration;

use otpbench::delivery::Channel;
use otpbench::engine::outcome::{ChallengeId, Outcome};
use otpbench::engine::{ChallengeRef, VerifyRequest};
use otpbench::store::Store;

use crate::support::{code_of, policy, send_request, wrong, Rig, TENANT};

const PHONE: &str = "+14155550100";

async fn right_code_verifies_once(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let sent = rig.send(&policy(3, &["5/1h"]), PHONE, "login").await;
    let code = code_of(&sent);
    assert_eq!(rig.verify(PHONE, "login", &code).await, Outcome::Verified);
    assert_eq!(rig.verify(PHONE, "login", &code).await, Outcome::NotFound);
}

async fn sent_reports_ttl_attempts_and_sends_left(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = policy(4, &["5/1h", "3/1d"]);
    let Outcome::Sent(sent) = rig.send(&policy, PHONE, "login").await else {
        panic!("send failed");
    };
    assert_eq!(sent.expires_in, Duration::from_secs(300));
    assert_eq!(sent.attempts_remaining, 4);
    assert_eq!(sent.sends_remaining, Some(2));
    assert_eq!(sent.channel, Channel::Sms);
    let messages = rig.delivery.journal.list(&Default::default());
    assert_eq!(messages.len(), 1);
    assert_eq!(&*messages[0].message.to, PHONE);
    assert_eq!(
        &*messages[0].message.text,
        format!("Your code is {}", sent.code.as_str())
    );
}

async fn wrong_codes_lock_the_challenge(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let code = code_of(&rig.send(&policy(3, &[]), PHONE, "login").await);
    for remaining in [2, 1, 0] {
        assert_eq!(
            rig.verify(PHONE, "login", &wrong(&code)).await,
            Outcome::WrongCode {
                attempts_remaining: remaining
            }
        );
    }
    rig.advance(Duration::from_secs(100)).await;
    for guess in [code.clone(), wrong(&code)] {
        assert_eq!(
            rig.verify(PHONE, "login", &guess).await,
            Outcome::AttemptsExceeded {
                retry_after: Duration::from_secs(200)
            }
        );
    }
    // A new send unlocks with a fresh code and a fresh attempt budget.
    let fresh = code_of(&rig.send(&policy(3, &[]), PHONE, "login").await);
    assert_eq!(rig.verify(PHONE, "login", &fresh).await, Outcome::Verified);
}

async fn codes_expire_then_are_forgotten(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let code = code_of(&rig.send(&policy(3, &[]), PHONE, "login").await);
    rig.advance(Duration::from_millis(299_999)).await;
    let right = rig.verify(PHONE, "login", &wrong(&code)).await;
    assert_eq!(
        right,
        Outcome::WrongCode {
            attempts_remaining: 2
        }
    );
    rig.advance(Duration::from_millis(1)).await;
    assert_eq!(rig.verify(PHONE, "login", &code).await, Outcome::Expired);
    // Expired challenges answer `expired` for one more ttl, then are purged.
    rig.advance(Duration::from_secs(300)).await;
    rig.engine.purge().await.unwrap();
    assert_eq!(rig.verify(PHONE, "login", &code).await, Outcome::NotFound);
}

async fn a_new_send_replaces_the_old_code(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let first = rig.send(&policy(3, &[]), PHONE, "login").await;
    let Outcome::Sent(first) = first else {
        panic!("send failed")
    };
    let second = code_of(&rig.send(&policy(3, &[]), PHONE, "login").await);
    let by_old_id = VerifyRequest {
        by: ChallengeRef::Id {
            tenant: TENANT.into(),
            id: first.id,
        },
        code: first.code.as_str().into(),
    };
    assert_eq!(rig.engine.verify(by_old_id).await, Outcome::NotFound);
    if first.code.as_str() != second {
        assert!(matches!(
            rig.verify(PHONE, "login", first.code.as_str()).await,
            Outcome::WrongCode { .. }
        ));
    }
    assert_eq!(rig.verify(PHONE, "login", &second).await, Outcome::Verified);
}

async fn verify_by_id_stays_within_its_tenant(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let Outcome::Sent(sent) = rig.send(&policy(3, &[]), PHONE, "login").await else {
        panic!("send failed")
    };
    let by_id = |tenant: &str| VerifyRequest {
        by: ChallengeRef::Id {
            tenant: tenant.into(),
            id: sent.id,
        },
        code: sent.code.as_str().into(),
    };
    assert_eq!(rig.engine.verify(by_id("other")).await, Outcome::NotFound);
    let unknown = VerifyRequest {
        by: ChallengeRef::Id {
            tenant: TENANT.into(),
            id: ChallengeId::random(),
        },
        code: "123456".into(),
    };
    assert_eq!(rig.engine.verify(unknown).await, Outcome::NotFound);
    assert_eq!(rig.engine.verify(by_id(TENANT)).await, Outcome::Verified);
    assert_eq!(rig.engine.verify(by_id(TENANT)).await, Outcome::NotFound);
}

async fn send_limits_slide(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = policy(3, &["3/1m"]);
    for remaining in [2, 1, 0] {
        let Outcome::Sent(sent) = rig.send(&policy, PHONE, "login").await else {
            panic!("send failed")
        };
        assert_eq!(sent.sends_remaining, Some(remaining));
        rig.advance(Duration::from_secs(10)).await;
    }
    // Sends at 0, 10, 20 s; at 30 s the first leaves the window at 60 s.
    assert_eq!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::RateLimited {
            retry_after: Duration::from_secs(30)
        }
    );
    rig.advance(Duration::from_secs(30)).await;
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::Sent(_)
    ));
    // A rate-limited send is not recorded: the next slot is at 70 s.
    assert_eq!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::RateLimited {
            retry_after: Duration::from_secs(10)
        }
    );
}

async fn every_limit_of_a_list_applies(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = policy(3, &["2/1m", "3/1h"]);
    for _ in 0..2 {
        assert!(matches!(
            rig.send(&policy, PHONE, "login").await,
            Outcome::Sent(_)
        ));
    }
    rig.advance(Duration::from_secs(60)).await;
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::Sent(_)
    ));
    assert_eq!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::RateLimited {
            retry_after: Duration::from_secs(3540)
        }
    );
}

async fn cooldown_spaces_sends(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let mut policy = policy(3, &[]);
    policy.cooldown = Some(Duration::from_secs(30));
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::Sent(_)
    ));
    rig.advance(Duration::from_secs(12)).await;
    assert_eq!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::RateLimited {
            retry_after: Duration::from_secs(18)
        }
    );
    rig.advance(Duration::from_secs(18)).await;
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::Sent(_)
    ));
}

async fn purposes_are_independent_but_share_limits(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = policy(3, &["2/1h"]);
    let login = code_of(&rig.send(&policy, PHONE, "login").await);
    let pay = code_of(&rig.send(&policy, PHONE, "pay").await);
    assert!(matches!(
        rig.send(&policy, PHONE, "other").await,
        Outcome::RateLimited { .. }
    ));
    assert_eq!(rig.verify(PHONE, "pay", &pay).await, Outcome::Verified);
    assert_eq!(rig.verify(PHONE, "login", &login).await, Outcome::Verified);
}

async fn identifiers_and_tenants_are_independent(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = policy(3, &["1/1h"]);
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::Sent(_)
    ));
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::RateLimited { .. }
    ));
    assert!(matches!(
        rig.send(&policy, "+14155550101", "login").await,
        Outcome::Sent(_)
    ));
    let mut elsewhere = send_request(PHONE, "login");
    elsewhere.tenant = "other".into();
    assert!(matches!(
        rig.engine.send(&policy, elsewhere).await,
        Outcome::Sent(_)
    ));
}

async fn emails_go_by_email(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let Outcome::Sent(sent) = rig.send(&policy(3, &[]), "Ann@Example.com", "login").await else {
        panic!("send failed")
    };
    assert_eq!(sent.channel, Channel::Email);
    let code = sent.code.as_str().to_string();
    assert_eq!(
        rig.verify("ann@example.COM", "login", &code).await,
        Outcome::Verified
    );
    let mut by_sms = send_request("ann@example.com", "login");
    by_sms.channel = Some(Channel::Sms);
    let refused = rig.engine.send(&policy(3, &[]), by_sms).await;
    assert!(
        matches!(refused, Outcome::InvalidInput { reason } if reason.to_string().contains("sms"))
    );
}

async fn delivery_cascades_to_the_next_channel(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let mut policy = policy(3, &[]);
    policy.channels = vec![Channel::Sms, Channel::Telegram, Channel::Email];
    rig.delivery.set_down(Channel::Sms, true);
    let Outcome::Sent(sent) = rig.send(&policy, PHONE, "login").await else {
        panic!("send failed")
    };
    assert_eq!(sent.channel, Channel::Telegram);
    let code = sent.code.as_str().to_string();
    assert_eq!(rig.verify(PHONE, "login", &code).await, Outcome::Verified);
}

/// Regression: with sms and telegram down, the cascade "delivered" the
/// code by e-mail to a phone number. E-mail never reaches a phone, and
/// a dialect's `reachable` narrows the cascade further.
async fn the_cascade_skips_channels_that_cannot_reach_the_recipient(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let mut policy = policy(3, &[]);
    policy.channels = vec![Channel::Sms, Channel::Telegram, Channel::Email];
    rig.delivery.set_down(Channel::Sms, true);
    rig.delivery.set_down(Channel::Telegram, true);
    assert_eq!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::ProviderUnavailable
    );
    assert!(rig.delivery.journal.is_empty());
    assert_eq!(
        rig.delivery
            .attempts
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );

    rig.delivery.set_down(Channel::Telegram, false);
    let mut only_sms = send_request(PHONE, "login");
    only_sms.reachable = Some(&[Channel::Sms]);
    assert_eq!(
        rig.engine.send(&policy, only_sms).await,
        Outcome::ProviderUnavailable
    );
    let mut telegram_too = send_request(PHONE, "login");
    telegram_too.reachable = Some(&[Channel::Sms, Channel::Telegram]);
    let Outcome::Sent(sent) = rig.engine.send(&policy, telegram_too).await else {
        panic!("send failed")
    };
    assert_eq!(sent.channel, Channel::Telegram);
}

async fn failed_delivery_revokes_but_still_counts(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = policy(3, &["2/1h"]);
    let old = code_of(&rig.send(&policy, PHONE, "login").await);
    rig.delivery.set_all_down(true);
    assert_eq!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::ProviderUnavailable
    );
    // The new challenge was revoked and the old one had been replaced.
    assert_eq!(rig.verify(PHONE, "login", &old).await, Outcome::NotFound);
    rig.delivery.set_all_down(false);
    assert!(matches!(
        rig.send(&policy, PHONE, "login").await,
        Outcome::RateLimited { .. }
    ));
}

async fn absurd_codes_are_invalid_input(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let code = code_of(&rig.send(&policy(3, &[]), PHONE, "login").await);
    for bad in [String::new(), "1".repeat(65)] {
        assert!(matches!(
            rig.verify(PHONE, "login", &bad).await,
            Outcome::InvalidInput { .. }
        ));
    }
    // Refused input does not use an attempt.
    assert_eq!(rig.verify(PHONE, "login", &code).await, Outcome::Verified);
}

async fn letter_codes_compare_case_insensitively(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let mut policy = policy(3, &[]);
    policy.alphabet = otpbench::engine::code::Alphabet::Alpha;
    let code = code_of(&rig.send(&policy, PHONE, "login").await);
    assert!(code.chars().all(|c| c.is_ascii_uppercase()));
    assert_eq!(
        rig.verify(PHONE, "login", &code.to_lowercase()).await,
        Outcome::Verified
    );
}

crate::for_each_store!(
    right_code_verifies_once,
    sent_reports_ttl_attempts_and_sends_left,
    wrong_codes_lock_the_challenge,
    codes_expire_then_are_forgotten,
    a_new_send_replaces_the_old_code,
    verify_by_id_stays_within_its_tenant,
    send_limits_slide,
    every_limit_of_a_list_applies,
    cooldown_spaces_sends,
    purposes_are_independent_but_share_limits,
    identifiers_and_tenants_are_independent,
    emails_go_by_email,
    delivery_cascades_to_the_next_channel,
    the_cascade_skips_channels_that_cannot_reach_the_recipient,
    failed_delivery_revokes_but_still_counts,
    absurd_codes_are_invalid_input,
    letter_codes_compare_case_insensitively,
);
