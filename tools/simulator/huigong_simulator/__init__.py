"""区市模拟器 / the district simulator: realistic traffic from the ten districts (and, on request,
the group unions) to the intake service, over HTTP or over the Kafka inbound topics, for demos,
tests and benchmarks.

What it sends: applications of all four programmes (with some amendments and withdrawals),
construction plans for approved applications, facilities, service projects, compliance facts of
the data exchange, and gig-worker enrolment sheets up to the 400,000 of the 2025 target.

Simulated data is always marked: over HTTP a district's commands are sent with the API key of
the principal ``simulator:<code>`` (the data exchange's, ``exchange:<department>``, carry
``X-Huigong-Simulated: true``), over Kafka every command carries ``"simulated": true``. The keys
come from a keyring file (``HUIGONG_KEYRING``, default ``.local/keyring.json``) that bin/run
writes with ``huigong keys create --keyring``.

The same seed gives the same traffic, command ids included: a rerun with the same seed is a
replay that the service answers from its idempotency records.

The package, by job: `data` (made-up personal data: ID numbers, mobiles, names, credit codes,
enrolment rows), `forms` (application forms, plans, facilities, projects, compliance facts),
`commands` (what intake's API and inbound topics carry), `transports` (HTTP and Kafka), `run`
(sending with bounded concurrency and counting; importable, so benchmarks need not go through
the CLI) and `cli` (the `huigong-simulator` command). It lives outside intake so that the
service ships none of it.
"""
