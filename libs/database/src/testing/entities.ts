import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Column types are explicit so the entity does not depend on emitted decorator metadata. */
@Entity('model')
export class Model {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  @Column('integer')
  version!: number;
}
