#!/bin/sh
# The official image's template step, from its documented behaviour: render every
# $NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX with envsubst into
# $NGINX_ENVSUBST_OUTPUT_DIR (suffix dropped), substituting only the environment variables whose
# names match $NGINX_ENVSUBST_FILTER (all when unset), so nginx's own $variables stay.
set -eu

template_dir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
output_dir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
filter=${NGINX_ENVSUBST_FILTER:-}

[ -d "$template_dir" ] || exit 0
if [ ! -w "$output_dir" ]; then
  echo "$0: $output_dir is not writable; templates not rendered" >&2
  exit 0
fi
names=$(env | cut -d= -f1 | grep -E -- "${filter:-.}" | sed 's/.*/${&}/' | tr '\n' ' ')
find "$template_dir" -follow -type f -name "*$suffix" | while read -r template; do
  relative=${template#"$template_dir"/}
  output=$output_dir/${relative%"$suffix"}
  mkdir -p "$(dirname "$output")"
  echo "$0: rendering $template to $output"
  envsubst "$names" <"$template" >"$output"
done
