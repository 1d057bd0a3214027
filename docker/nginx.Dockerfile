# syntax=docker/dockerfile:1
# The nginx image: the official image with the project's config template and the static page.
# The official entrypoint renders /etc/nginx/templates/*.template with envsubst at start.
FROM nginx:1.28
COPY nginx/ /etc/nginx/templates/
COPY frontend/ /usr/share/ghostwriter/frontend/
USER 101:101
EXPOSE 5000
