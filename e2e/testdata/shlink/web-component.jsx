// Shlink's web component (@shlinkio/shlink-web-component), the UI of Shlink's
// web client, talking to kurz with Shlink's SDK as the web client does: the
// server's version from its health, then the component. Bundled with esbuild
// by scripts/npm-test-clients.sh; the page sets window.KURZ = {baseUrl, apiKey}.
import { createRoot } from 'react-dom/client';
import { ShlinkWebComponent } from '@shlinkio/shlink-web-component';
import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { FetchHttpClient } from '@shlinkio/shlink-js-sdk/fetch';

const { baseUrl, apiKey } = window.KURZ;
const apiClient = new ShlinkApiClient(new FetchHttpClient(), { baseUrl, apiKey });
const root = createRoot(document.getElementById('root'));
apiClient.health().then(
  ({ version }) => root.render(<ShlinkWebComponent serverVersion={version} apiClient={apiClient} />),
  (e) => root.render(<p id="unreachable">Server not reachable: {JSON.stringify(e)}</p>),
);
