# Tideway API and worker image. Multi-stage: build (TypeScript + prebuilt workflow bundle), then a
# slim runtime with production dependencies only. The same image runs as API or worker.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts/ensure-deps.js scripts/ensure-deps.js
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 8080
# Override with `node dist/worker/main.js` for workers (see docker-compose.yml).
CMD ["node", "dist/api/server.js"]
