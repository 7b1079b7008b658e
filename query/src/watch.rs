//! `ecs-query watch`: the deployment watch ([`ecs_query_engine::watch`]) in a
//! terminal. Each evaluation prints its messages (the email text, or one
//! JSON object per message with `-f json`), publishes them to `--topic` if
//! given, then saves what was said in the lake, so the next evaluation (or
//! the next run) does not repeat itself.

use std::io::Write;
use std::time::Duration;

use ecs_query_engine::watch::{self, Settings, State};

use crate::cli::{Format, LakeArgs, OutputArgs, WatchArgs};
use crate::error::CliError;

pub async fn run(
    lake_args: &LakeArgs,
    args: &WatchArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if output.now.is_some() && !args.once {
        return Err(CliError::Usage {
            message: "--now pins one evaluation: it needs --once".into(),
            hint: "ecs-query watch --once --now 2026-11-19T04:00",
        });
    }
    let settings = Settings {
        window: args.window,
        min_stops: args.min_stops as usize,
        per_service_per_hour: args.per_hour as usize,
        ..Settings::default()
    };
    let mut config = lake_args.config();
    config.endpoint_url = None;
    let sdk = config.sdk_config().await;
    let sns = args.topic.as_ref().map(|_| aws_sdk_sns::Client::new(&sdk));
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let http = reqwest::Client::new();
    loop {
        // Opened per evaluation: it must see the files written since the last.
        let lake = crate::open_lake(lake_args).await?;
        let store = lake.store();
        let mut state = State::load(&store, &args.state).await?;
        let now = crate::ask::now(output);
        let evaluation = watch::evaluate(&lake, &state, now, &settings).await?;
        // Read per evaluation: a rotated URL is used at once.
        let webhook = match &args.webhook_secret {
            Some(secret) if !evaluation.alerts.is_empty() => {
                Some(watch::webhook_url(&secrets, secret).await?)
            }
            _ => None,
        };
        let mut webhook_failure = None;
        for alert in &evaluation.alerts {
            if let (Some(sns), Some(topic)) = (&sns, &args.topic)
                && let Err(e) = watch::publish(sns, topic, alert).await
            {
                // What was published before it stays said.
                state.save(&store, &args.state).await?;
                return Err(e.into());
            }
            match output.format {
                Format::Json => {
                    serde_json::to_writer(&mut *out, alert)
                        .map_err(|e| CliError::Internal(format!("writing JSON: {e}")))?;
                    writeln!(out)?;
                }
                _ => writeln!(out, "{}", alert.email().1)?,
            }
            out.flush()?;
            state.record(alert, evaluation.now);
            if let Some(url) = &webhook
                && let Err(e) = watch::post_webhook(&http, url, alert).await
            {
                eprintln!("{e}");
                webhook_failure.get_or_insert(e);
            }
        }
        for held in &evaluation.held {
            eprintln!(
                "held by the rate limit ({} per service per hour): {}",
                settings.per_service_per_hour,
                held.headline()
            );
        }
        state.finish(&evaluation);
        state.save(&store, &args.state).await?;
        if let Some(e) = webhook_failure {
            return Err(e.into());
        }
        if args.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_micros(args.every.unsigned_abs())).await;
    }
}
