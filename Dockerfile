# Skypatrol image: API + web app (`serve`) and queue workers (`worker`) share it.
# Build:  docker build -t skypatrol .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx vite build --config web/vite.config.ts
# The libdeflate binding (services/adapters/raster/native): COG blocks inflate ~1.5x faster.
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends gcc libc6-dev libdeflate-dev \
    && rm -rf services/adapters/raster/native/build && bash scripts/build-native.sh

FROM node:20-bookworm-slim AS runtime
# CJK fonts for inspection packets; curl-free health checks use node itself.
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fonts-noto-cjk libdeflate0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production SKYPATROL_HOST=0.0.0.0 SKYPATROL_PORT=8080
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY services ./services
COPY detectors ./detectors
COPY migrations ./migrations
COPY tiles ./tiles
COPY --from=build /app/web/dist ./web/dist
COPY --from=build /app/services/adapters/raster/native/build ./services/adapters/raster/native/build
USER node
EXPOSE 8080
ENTRYPOINT ["node", "--single-threaded-gc", "bin/skypatrol.mjs"]
CMD ["serve"]
