# A slim image that runs `dcc serve` as a non-root user, migrating on start.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ledger ledger
COPY api api
COPY netting netting
COPY migrations migrations
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 dcc
COPY --from=build /install /usr/local
USER dcc
WORKDIR /home/dcc
ENV DCC_DATABASE_URL=sqlite:////home/dcc/dcc.db
EXPOSE 8000
# `dcc serve` applies every migration before it listens.
CMD ["dcc", "serve", "--host", "0.0.0.0", "--port", "8000"]
