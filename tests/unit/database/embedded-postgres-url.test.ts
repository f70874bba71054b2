import { describe, expect, it } from 'vitest';
import { embeddedUrl } from '../../../src/database/embedded-postgres.js';

describe("the embedded PostgreSQL's URL", () => {
  it('goes through the Unix socket in the data folder', () => {
    expect(embeddedUrl('p@ss', 5433, '/srv/graphcron/.data/postgres')).toBe(
      'postgres://postgres:p%40ss@127.0.0.1:5433/postgres?host=%2Fsrv%2Fgraphcron%2F.data%2Fpostgres',
    );
  });

  it('uses TCP on 127.0.0.1 when the socket path would be too long for the system', () => {
    const deep = `/srv/${'nested-folder/'.repeat(8)}postgres`;
    expect(embeddedUrl('pw', 5433, deep)).toBe('postgres://postgres:pw@127.0.0.1:5433/postgres');
  });
});
