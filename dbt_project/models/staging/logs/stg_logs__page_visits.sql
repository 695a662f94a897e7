-- One row per server access-log line (raw_logs.page_visits; rejected lines are in raw_logs.quarantine).
-- Times in UTC, "-" placeholders as nulls, the requested path normalised so that the same page always has
-- the same page_path, and a bot flag from the user agent.

with page_visits as (
    select * from {{ pwh.source_or_empty('logs', 'page_visits') }}
),

renamed as (
    select
        {{ pwh.surrogate_key(['source_file', 'line_number']) }} as page_visit_id,
        {{ pwh.to_utc('requested_at') }} as visited_at,
        client_ip,
        upper(trim(http_method)) as http_method,
        url as request_url,
        -- path without "#fragment" and "?query"
        {{ dbt.split_part(dbt.split_part('url', "'#'", 1), "'?'", 1) }} as request_path,
        nullif({{ dbt.split_part(dbt.split_part('url', "'#'", 1), "'?'", 2) }}, '') as query_string,
        http_protocol,
        status_code,
        response_bytes,
        nullif(nullif(trim(referrer), '-'), '') as referrer,
        nullif(nullif(trim(user_agent), '-'), '') as user_agent,
        nullif(nullif(trim(anonymous_id), '-'), '') as anonymous_id,
        source_file,
        line_number
    from page_visits
),

normalised as (
    select
        renamed.*,
        {{ pwh.page_path('request_path') }} as page_path,
        -- crawlers, uptime checks and scripted clients; a missing user agent is never a browser
        coalesce(
            {{ pwh.regexp_like(
                'lower(user_agent)',
                'bot|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|go-http-client|java/|okhttp|scrapy|httpclient|headless|lighthouse|pingdom|uptimerobot|facebookexternalhit'
            ) }},
            true
        ) as is_bot
    from renamed
),

final as (
    select
        page_visit_id,
        visited_at,
        {{ dbt.cast(dbt.date_trunc('day', 'visited_at'), 'date') }} as visit_date,
        anonymous_id,
        client_ip,
        http_method,
        page_path,
        query_string,
        request_url,
        http_protocol,
        status_code,
        status_code between 200 and 399 as is_successful,
        {{ pwh.regexp_like('page_path', '\.(css|js|mjs|map|png|jpe?g|gif|svg|webp|ico|woff2?|ttf|eot|txt|xml)$') }}
            as is_static_asset,
        is_bot,
        response_bytes,
        referrer,
        user_agent,
        source_file,
        line_number
    from normalised
)

select * from final
