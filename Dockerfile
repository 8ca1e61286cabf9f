# One image for every role of a Parley node. Node 24 runs the TypeScript sources directly.
# Debian 13 (trixie): glibc 2.41, so uWebSockets.js loads (it needs 2.38 or later; bookworm has 2.36
# and always fell back to ws). ROLE, PUBLIC_ADDRESS and the rest come from the environment.
FROM node:24-trixie-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY server ./server
COPY rooms ./rooms
COPY schema ./schema
# The console and demo pages, bundled by esbuild on first request; the demo bundles the client kit.
COPY pages ./pages
COPY client ./client
# Node's module compile cache, filled here by the user the nodes run as (Node keeps it per user): a
# node the image starts skips parsing, type stripping and compiling its modules (about 30 % less
# CPU to start). Read-only at run time is fine, as under the Kubernetes manifests.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN mkdir /app/.compile-cache && chown node /app/.compile-cache
USER node
RUN node server/warm-compile-cache.ts
EXPOSE 2567
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||2567)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "server/main.ts"]
