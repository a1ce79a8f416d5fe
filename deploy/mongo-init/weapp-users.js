/* global db, print */
// MongoDB users for the services, least privilege: readWrite on the application database (MONGO_DB) and
// nothing else (no other database, no user or cluster administration). The mongo image runs this file
// with mongosh as the root account on the first start of an empty data volume (docker-compose.yml mounts
// this directory as /docker-entrypoint-initdb.d). The passwords are Docker secrets (deploy/make-secrets.sh).
// Idempotent: on a volume made before this file existed, or to apply a new password, run it again:
//   docker compose exec mongo sh -c 'mongosh -u "$MONGO_INITDB_ROOT_USERNAME" -p "$(cat /run/secrets/mongo_root_password)" \
//     --authenticationDatabase admin --quiet /docker-entrypoint-initdb.d/weapp-users.js'
const fs = require('fs')

const dbName = process.env.WEAPP_MONGO_DB || 'weapp'
const app = db.getSiblingDB(dbName)
const users = [
  { user: 'weapp-session', passwordFile: '/run/secrets/mongo_session_password' },
  { user: 'weapp-cs-messaging', passwordFile: '/run/secrets/mongo_cs_password' }
]

for (const { user, passwordFile } of users) {
  const pwd = fs.readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '')
  if (pwd.length < 32) throw new Error(`${passwordFile}: at least 32 characters (deploy/make-secrets.sh)`)
  const roles = [{ role: 'readWrite', db: dbName }]
  if (app.getUser(user) === null) {
    app.createUser({ user, pwd, roles })
    print(`weapp-users.js: created ${user} (readWrite on ${dbName})`)
  } else {
    app.updateUser(user, { pwd, roles })
    print(`weapp-users.js: updated ${user} (readWrite on ${dbName})`)
  }
}
