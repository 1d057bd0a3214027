# syntax=docker/dockerfile:1
# The nginx image: the official image, the project's site template and the static page.
# At start the official entrypoint sources /docker-entrypoint.d/*.envsh (ours turns
# GHOST_NGINX_RESOLVER=local into the container's DNS servers), then renders
# /etc/nginx/templates/*.template with envsubst (only the GHOST_* variables, so nginx's own
# $variables stay) into /tmp; docker/nginx.conf includes it.
FROM nginx:1.28
ENV NGINX_ENVSUBST_OUTPUT_DIR=/tmp \
    NGINX_ENVSUBST_FILTER=^GHOST_
# The stock default server listens on port 80, which an unprivileged user cannot bind.
RUN rm -f /etc/nginx/conf.d/default.conf
COPY docker/nginx.conf /etc/nginx/nginx.conf
# Executable in git: the entrypoint sources only executable files.
COPY docker/nginx-resolver.envsh /docker-entrypoint.d/15-ghost-resolver.envsh
COPY nginx/ghostwriter.conf.template /etc/nginx/templates/ghostwriter.conf.template
COPY frontend/ /usr/share/ghostwriter/frontend/
# 101 is the image's `nginx` user; numeric so Kubernetes' runAsNonRoot can check it.
USER 101:101
EXPOSE 5000
