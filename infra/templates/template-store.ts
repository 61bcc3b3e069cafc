// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from '../postgres/transaction.js';

export interface TemplateContent {
  subject: string;
  html: string | null;
  text: string | null;
}

export interface TemplateVersion extends TemplateContent {
  templateId: string;
  version: number;
  createdBy: string;
  createdAt: string;
}

export interface MessageTemplate {
  id: string;
  serverId: string;
  alias: string;
  name: string;
  currentVersion: number;
  createdAt: string;
  updatedAt: string;
}

const toTemplate = (r: any): MessageTemplate => ({
  id: r.id,
  serverId: r.server_id,
  alias: r.alias,
  name: r.name,
  currentVersion: r.current_version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});
const toVersion = (r: any): TemplateVersion => ({
  templateId: r.template_id,
  version: r.version,
  subject: r.subject,
  html: r.html,
  text: r.text,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
});

/** Templates and their versions; a version, once written, never changes (sent messages name it). */
export class TemplateStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(
    serverId: string,
    alias: string,
    name: string,
    content: TemplateContent,
    by: string,
  ): Promise<MessageTemplate | 'taken'> {
    return inTransaction(this.pool, async (c) => {
      const { rows } = await c.query(
        `INSERT INTO message_templates (id, server_id, alias, name) VALUES ($1, $2, $3, $4)
           ON CONFLICT (server_id, alias) DO NOTHING RETURNING *`,
        [randomUUID(), serverId, alias, name],
      );
      if (!rows[0]) return 'taken';
      await c.query(
        'INSERT INTO message_template_versions (template_id, version, subject, html, text, created_by) VALUES ($1, 1, $2, $3, $4, $5)',
        [rows[0].id, content.subject, content.html, content.text, by],
      );
      return toTemplate(rows[0]);
    });
  }

  /** A new version, which becomes the current one. */
  async update(id: string, content: TemplateContent, by: string, name?: string): Promise<MessageTemplate | undefined> {
    return inTransaction(this.pool, async (c) => {
      const { rows } = await c.query(
        `UPDATE message_templates SET current_version = current_version + 1, updated_at = now(), name = coalesce($2, name)
          WHERE id = $1 RETURNING *`,
        [id, name ?? null],
      );
      if (!rows[0]) return undefined;
      await c.query(
        'INSERT INTO message_template_versions (template_id, version, subject, html, text, created_by) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, rows[0].current_version, content.subject, content.html, content.text, by],
      );
      return toTemplate(rows[0]);
    });
  }

  async list(serverId: string): Promise<MessageTemplate[]> {
    const { rows } = await this.pool.query('SELECT * FROM message_templates WHERE server_id = $1 ORDER BY alias', [
      serverId,
    ]);
    return rows.map(toTemplate);
  }

  async get(id: string): Promise<MessageTemplate | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM message_templates WHERE id = $1', [id]);
    return rows[0] ? toTemplate(rows[0]) : undefined;
  }

  async byAlias(serverId: string, alias: string): Promise<MessageTemplate | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM message_templates WHERE server_id = $1 AND alias = $2', [
      serverId,
      alias,
    ]);
    return rows[0] ? toTemplate(rows[0]) : undefined;
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM message_templates WHERE id = $1', [id]);
  }

  async version(id: string, version: number): Promise<TemplateVersion | undefined> {
    const { rows } = await this.pool.query(
      'SELECT * FROM message_template_versions WHERE template_id = $1 AND version = $2',
      [id, version],
    );
    return rows[0] ? toVersion(rows[0]) : undefined;
  }

  /** Every version, newest first, without their content. */
  async versions(id: string): Promise<Omit<TemplateVersion, keyof TemplateContent>[]> {
    const { rows } = await this.pool.query(
      'SELECT template_id, version, created_by, created_at FROM message_template_versions WHERE template_id = $1 ORDER BY version DESC',
      [id],
    );
    return rows.map((r) => ({
      templateId: r.template_id,
      version: r.version,
      createdBy: r.created_by,
      createdAt: r.created_at.toISOString(),
    }));
  }
}
