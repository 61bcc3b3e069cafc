/** The tab bar of every page about one server: where its parts are managed. */
export function ServerTabs({ id }: { id: string }) {
  return (
    <nav aria-label="Server" class="tabs">
      <a href={`/servers/${id}`}>Overview</a>
      <a href={`/servers/${id}/messages`}>Messages</a>
      <a href={`/servers/${id}/messages?status=held`}>Held</a>
      <a href={`/servers/${id}/domains`}>Domains</a>
      <a href={`/servers/${id}/track-domains`}>Track domains</a>
      <a href={`/servers/${id}/credentials`}>Credentials</a>
      <a href={`/servers/${id}/suppressions`}>Suppressions</a>
      <a href={`/servers/${id}/webhooks`}>Webhooks</a>
      <a href={`/servers/${id}/templates`}>Templates</a>
      <a href={`/servers/${id}/routes`}>Inbound routes</a>
      <a href={`/servers/${id}/queue`}>Queue</a>
      <a href={`/servers/${id}/analytics`}>Analytics</a>
      <a href={`/servers/${id}/settings`}>Settings</a>
    </nav>
  );
}
