# Postlog: one image for every role; POSTLOG_ROLES picks what a container runs (see docs/scaling.md).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY app ./app
COPY domain ./domain
COPY infra ./infra
COPY mta ./mta
COPY projections ./projections
COPY read-api ./read-api
COPY write-side ./write-side
# the shipped shaping rules (mta/shaping/ reads config/shaping.yaml next to dist/)
COPY config ./config
COPY dashboard ./dashboard
COPY bench ./bench
COPY chaos ./chaos
COPY test ./test
# the server and the dashboard (Vite, a dev dependency: only its built files go into the image)
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production \
    POSTLOG_DATA_DIR=/var/lib/postlog \
    POSTLOG_HTTP_HOST=0.0.0.0 \
    POSTLOG_SMTP_HOST=0.0.0.0 \
    POSTLOG_LOG_FORMAT=json
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config
# the data dir holds the self-signed SMTP certificate when none is mounted; the image's "node" user owns it
RUN mkdir -p /var/lib/postlog && chown node:node /var/lib/postlog
USER node
VOLUME ["/var/lib/postlog"]
# HTTP API and tracking, SMTP submission (STARTTLS, TLS), inbound SMTP: unprivileged ports inside the container
EXPOSE 5000 2587 2465 2525
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.POSTLOG_HTTP_PORT || 5000) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/app/cli/main.js", "start"]
