# Shared by the compose tests (cluster/compose-test.sh, cluster/compose-bench-test.sh).

# remove_labelled NAME: removes the containers, networks and volumes that carry compose project
# NAME's label, whatever state they are in (what `down -v` left, or a project whose compose file
# is gone). Call it after the project's own `down -v --remove-orphans`.
remove_labelled() {
  local name=$1 ids
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$name")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
  ids=$(docker network ls -q --filter "label=com.docker.compose.project=$name")
  [ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1 || true
  ids=$(docker volume ls -q --filter "label=com.docker.compose.project=$name")
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1 || true
}
