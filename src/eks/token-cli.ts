/**
 * Entry point of the exec credential plugin (bundled; see exec-credential.ts):
 *   node eks-token.mjs --cluster <name> --region <region>
 */
import { execCredential } from './exec-credential.js';

try {
  process.stdout.write(`${await execCredential(process.argv.slice(2), process.env)}\n`);
} catch (e) {
  process.stderr.write(`eks-token: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
