-- Golden SQL (litellm_spend_logs.select), rendered by tests/sources/test_reader_sql.py: do not edit by hand.
-- Regenerate: FINOPS_UPDATE_GOLDEN=1 pytest tests/sources
WITH src AS (
  SELECT "request_id" AS request_id, "startTime" AS start_raw, "endTime" AS end_raw,
         "model" AS model, "spend" AS spend_raw, "prompt_tokens" AS prompt_raw,
         "completion_tokens" AS completion_raw, "request_duration_ms" AS duration_raw,
         "call_type" AS call_type, nullif("api_key", '') AS api_key,
         "model_group" AS model_group, "custom_llm_provider" AS provider_raw,
         "user" AS user_raw, "end_user" AS end_user, "metadata" AS metadata,
         "request_tags" AS request_tags, nullif("team_id", '') AS team_id,
         nullif("session_id", '') AS session_id, "status" AS status_raw
  FROM raw_text_rows
), parsed AS (
  SELECT *,
    TRY_CAST(start_raw AS TIMESTAMPTZ) AS t_start, TRY_CAST(end_raw AS TIMESTAMPTZ) AS t_end,
    TRY_CAST(spend_raw AS DOUBLE) AS n_spend, TRY_CAST(prompt_raw AS DOUBLE) AS n_prompt,
    TRY_CAST(completion_raw AS DOUBLE) AS n_completion, TRY_CAST(duration_raw AS DOUBLE) AS n_duration,
    try(json_transform(metadata, '{"usage_object": {"cache_read_input_tokens": "BIGINT", "prompt_tokens_details": {"cached_tokens": "BIGINT"}, "cache_creation_input_tokens": "BIGINT", "cache_creation_token_details": {"ephemeral_5m_input_tokens": "BIGINT", "ephemeral_1h_input_tokens": "BIGINT"}, "completion_tokens_details": {"reasoning_tokens": "BIGINT"}}, "user_api_key_alias": "VARCHAR", "user_api_key_team_alias": "VARCHAR", "user_api_key_user_id": "VARCHAR", "service_tier": "VARCHAR", "spend_logs_metadata": "JSON"}')) AS s,
    try(json_extract_string(request_tags, '$[*]')) AS tags
  FROM src
), faults AS (
  SELECT *, CASE WHEN nullif(trim(request_id), '') IS NULL THEN 'request_id' || chr(31) || 'missing request id' WHEN t_start IS NULL THEN 'startTime' || chr(31) || 'not an ISO-8601 timestamp' WHEN nullif(trim(model), '') IS NULL THEN 'model' || chr(31) || 'missing model' WHEN spend_raw IS NOT NULL AND n_spend IS NULL THEN 'spend' || chr(31) || 'not a number' WHEN NOT isfinite(n_spend) AND regexp_matches(spend_raw, '(?i)nan|inf') THEN 'spend' || chr(31) || 'not a finite number (NaN or infinity)' WHEN n_spend < 0 THEN 'spend' || chr(31) || 'negative spend' WHEN NOT isfinite(n_spend) OR n_spend >= 1e26 THEN 'spend' || chr(31) || 'out of range (too large in magnitude for an amount)' WHEN n_prompt IS NULL THEN 'prompt_tokens' || chr(31) || 'not a number' WHEN n_prompt < 0 OR n_prompt <> floor(n_prompt) THEN 'prompt_tokens' || chr(31) || 'not a non-negative integer' WHEN NOT isfinite(n_prompt) OR n_prompt > 1000000000000000 THEN 'prompt_tokens' || chr(31) || 'implausibly large (not a finite count up to 1e+15)' WHEN n_completion IS NULL THEN 'completion_tokens' || chr(31) || 'not a number' WHEN n_completion < 0 OR n_completion <> floor(n_completion) THEN 'completion_tokens' || chr(31) || 'not a non-negative integer' WHEN NOT isfinite(n_completion) OR n_completion > 1000000000000000 THEN 'completion_tokens' || chr(31) || 'implausibly large (not a finite count up to 1e+15)' END AS fault, metadata IS NOT NULL AND s IS NULL AS meta_bad,
    coalesce(s.usage_object.cache_read_input_tokens, s.usage_object.prompt_tokens_details.cached_tokens, 0)
      AS b_read,
    s.usage_object.cache_creation_token_details IS NOT NULL AS has_ttl,
    coalesce(s.usage_object.cache_creation_token_details.ephemeral_5m_input_tokens,
             CASE WHEN s.usage_object.cache_creation_token_details IS NULL
                  THEN s.usage_object.cache_creation_input_tokens END, 0) AS b_w5m,
    coalesce(s.usage_object.cache_creation_token_details.ephemeral_1h_input_tokens, 0) AS b_w1h,
    CAST(CASE WHEN isfinite(n_prompt) AND n_prompt BETWEEN 0 AND 1000000000000000 THEN n_prompt END AS BIGINT) AS prompt, CAST(CASE WHEN isfinite(n_completion) AND n_completion BETWEEN 0 AND 1000000000000000 THEN n_completion END AS BIGINT) AS completion,
    try(json_extract_string(s.spend_logs_metadata, ['$.team', '$.app', '$.application', '$.feature', '$.env', '$.environment', '$.experiment_id', '$.experiment', '$.variant', '$.experiment_variant', '$.quality_score'])) AS custom,
    list_transform(tags, lambda t: lower(t)) AS tags_lower
  FROM parsed
), buckets AS (
  SELECT *, prompt - b_read - b_w5m - b_w1h < 0 AS semantics_old, NOT has_ttl AND b_w5m > 0 AS ttl_assumed,
    nullif(regexp_extract(lower(model), '(?s)^[\t\n\x0b\x0c\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*(?:(?:openai|anthropic|azure|azure_ai|bedrock|vertex_ai|gemini|google|aws|litellm_proxy)/)?(?:(?:us|eu|apac|global|jp|au|ca|us-gov)\.)?(?:(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer)\.)?(.*?)(?:-v\d+(?::\d+)?)?[\t\n\x0b\x0c\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*$', 1), '') AS canon
  FROM faults
)
SELECT
  request_id AS x_RequestId, t_start AS ChargePeriodStart, t_end AS ChargePeriodEnd,
  coalesce(CASE lower(trim(provider_raw)) WHEN 'openai' THEN 'OpenAI' WHEN 'text-completion-openai' THEN 'OpenAI' WHEN 'anthropic' THEN 'Anthropic' WHEN 'bedrock' THEN 'AWS' WHEN 'bedrock_converse' THEN 'AWS' WHEN 'aws' THEN 'AWS' WHEN 'aws.bedrock' THEN 'AWS' WHEN 'azure' THEN 'Microsoft' WHEN 'azure_ai' THEN 'Microsoft' WHEN 'azure.ai.openai' THEN 'Microsoft' WHEN 'vertex_ai' THEN 'Google' WHEN 'vertex_ai_beta' THEN 'Google' WHEN 'gemini' THEN 'Google' WHEN 'gcp.vertex_ai' THEN 'Google' WHEN 'gcp.gemini' THEN 'Google' WHEN 'google' THEN 'Google' END, CASE WHEN starts_with(canon, 'gpt') THEN 'OpenAI' WHEN starts_with(canon, 'o1') THEN 'OpenAI' WHEN starts_with(canon, 'o3') THEN 'OpenAI' WHEN starts_with(canon, 'o4') THEN 'OpenAI' WHEN starts_with(canon, 'text-embedding') THEN 'OpenAI' WHEN starts_with(canon, 'claude') THEN 'Anthropic' WHEN starts_with(canon, 'gemini') THEN 'Google' ELSE coalesce(nullif(trim(provider_raw), ''), 'Unknown') END) AS ProviderName, canon AS x_Model, model AS x_ModelRaw,
  CASE WHEN list_contains(['completion', 'embedding', 'text_completion', 'image_generation', 'transcription', 'speech', 'moderation', 'rerank', 'responses'], substr(lower(call_type), 2)) THEN substr(lower(call_type), 2)
       ELSE lower(call_type) END AS x_Operation,
  CASE WHEN lower(s.service_tier) IN ('batch', 'priority', 'flex') THEN lower(s.service_tier)
       WHEN lower(s.service_tier) = 'scale' THEN 'provisioned' ELSE 'standard' END AS x_ServiceTier,
  CASE WHEN semantics_old THEN prompt ELSE prompt - b_read - b_w5m - b_w1h END AS x_InputUncachedTokens,
  b_read AS x_InputCacheReadTokens, b_w5m AS x_InputCacheWrite5mTokens, b_w1h AS x_InputCacheWrite1hTokens,
  completion AS x_OutputTokens,
  CASE WHEN s.usage_object.completion_tokens_details.reasoning_tokens IS NOT NULL
       THEN least(s.usage_object.completion_tokens_details.reasoning_tokens, completion) END AS x_OutputReasoningTokens,
  coalesce(n_duration, epoch_ms(t_end) - epoch_ms(t_start)) AS x_LatencyMs,
  CASE WHEN lower(status_raw) IN ('failure', 'failed', 'error') THEN 'failure' ELSE 'success' END AS x_Status,
  CAST(round(CASE WHEN isfinite(n_spend) AND abs(n_spend) < 1e26 THEN n_spend END, 12) AS DECIMAL(38, 12))
    AS x_ReportedCost, 'USD' AS BillingCurrency,
  api_key AS x_ApiKeyId,
  coalesce(nullif(end_user, ''), nullif(user_raw, ''), nullif(s.user_api_key_user_id, '')) AS x_UserId,
  coalesce(nullif(coalesce(custom[1], nullif(regexp_extract(tags[list_position(list_transform(tags_lower, lambda t: starts_with(t, 'team:')), true)], ':(.*)$', 1), '')), ''), nullif(s.user_api_key_team_alias, ''), team_id) AS x_Team,
  nullif(coalesce(custom[2], custom[3], nullif(regexp_extract(tags[list_position(list_transform(tags_lower, lambda t: starts_with(t, 'app:') OR starts_with(t, 'application:')), true)], ':(.*)$', 1), '')), '') AS x_Application,
  nullif(coalesce(custom[4], nullif(regexp_extract(tags[list_position(list_transform(tags_lower, lambda t: starts_with(t, 'feature:')), true)], ':(.*)$', 1), '')), '') AS x_Feature,
  nullif(coalesce(custom[5], custom[6], nullif(regexp_extract(tags[list_position(list_transform(tags_lower, lambda t: starts_with(t, 'env:') OR starts_with(t, 'environment:')), true)], ':(.*)$', 1), '')), '') AS x_Environment,
  nullif(coalesce(custom[7], custom[8], nullif(regexp_extract(tags[list_position(list_transform(tags_lower, lambda t: starts_with(t, 'experiment_id:') OR starts_with(t, 'experiment:')), true)], ':(.*)$', 1), '')), '') AS x_ExperimentId,
  nullif(coalesce(custom[9], custom[10], nullif(regexp_extract(tags[list_position(list_transform(tags_lower, lambda t: starts_with(t, 'variant:') OR starts_with(t, 'experiment_variant:')), true)], ':(.*)$', 1), '')), '') AS x_Variant,
  TRY_CAST(custom[11] AS DOUBLE) AS x_QualityScore,
  session_id AS x_SessionId,
  json_object('request_tags', tags, 'key_alias', s.user_api_key_alias, 'team_alias', s.user_api_key_team_alias,
              'team_id', team_id, 'model_group', model_group, 'spend_logs_metadata', s.spend_logs_metadata) AS Tags,
  'litellm_spend_logs' AS x_SourceFormat, '/data/x.csv' AS x_SourceFile, NULL::BIGINT AS x_SourceRow,
  md5('litellm_spend_logs' || chr(31) || request_id) AS x_RowHash,
  CASE WHEN fault IS NOT NULL THEN 'REJECT' || fault || chr(31) || coalesce(left(CASE split_part(fault, chr(31), 1) WHEN 'request_id' THEN request_id WHEN 'startTime' THEN start_raw WHEN 'model' THEN model WHEN 'spend' THEN spend_raw WHEN 'prompt_tokens' THEN prompt_raw WHEN 'completion_tokens' THEN completion_raw END, 200), '')
       ELSE concat_ws(',', CASE WHEN semantics_old THEN 'cache_semantics_inferred' END, CASE WHEN ttl_assumed THEN 'cache_ttl_assumed' END, CASE WHEN n_spend IS NULL THEN 'reported_cost_missing' END, CASE WHEN meta_bad THEN 'token_subfields_missing' END) END AS x_DataQualityFlags
FROM buckets
